package browsertest

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// stopper is a testing.TB whose Fatal and Skip end only the goroutine
// they run on, and say which ended it.
type stopper struct {
	testing.TB
	how, msg string
}

func (s *stopper) Helper() {}
func (s *stopper) Fatal(args ...any) {
	s.how, s.msg = "fail", fmt.Sprint(args...)
	runtime.Goexit()
}
func (s *stopper) Skip(args ...any) {
	s.how, s.msg = "skip", fmt.Sprint(args...)
	runtime.Goexit()
}

func TestAxeMissing(t *testing.T) {
	t.Setenv("GLASSHOUSE_AXE", filepath.Join(t.TempDir(), "axe.min.js"))
	for ci, want := range map[string]string{"": "skip", "true": "fail"} {
		t.Setenv("CI", ci)
		s := &stopper{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			requireAxe(s)
		}()
		<-done
		if s.how != want || !strings.Contains(s.msg, "axe-core is missing") || !strings.Contains(s.msg, "run npm ci") {
			t.Errorf("CI=%q: %s %q; want to %s, saying to run npm ci", ci, s.how, s.msg, want)
		}
	}
}
