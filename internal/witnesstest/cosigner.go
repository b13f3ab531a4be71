package witnesstest

import (
	"bytes"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Cosigner is a witness key made in the test, without a witness process:
// it adds cosignature/v1 lines (C2SP tlog-cosignature) to checkpoints, as
// a witness would, for tests of what verifiers accept.
type Cosigner struct {
	// VerifierKey is its cosignature/v1 verifier key in note form.
	VerifierKey string
	signer      note.Signer
}

// NewCosigner makes a cosigner named name (e.g. "witness.test/a").
func NewCosigner(tb testing.TB, name string) Cosigner {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(nil, name)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		tb.Fatal(err)
	}
	cv, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return Cosigner{VerifierKey: cv, signer: s}
}

// Cosign returns the signed note raw with c's cosignature line added.
func (c Cosigner) Cosign(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	text, _, _ := bytes.Cut(raw, []byte("\n\n"))
	signed, err := note.Sign(&note.Note{Text: string(text) + "\n"}, c.signer)
	if err != nil {
		tb.Fatal(err)
	}
	_, sig, _ := bytes.Cut(signed, []byte("\n\n"))
	return append(bytes.Clone(raw), sig...)
}
