package glasshouse

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// DirectoryPartner is one partner in the public partner directory: a
// partner that ever had an approved agreement, with every approved version
// of it and what the transparency log holds of each.
type DirectoryPartner struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	// Status is approved, suspended, or expired (its version in force
	// has expired).
	Status string `json:"status"`
	// Usage counts its accesses, granted and denied, as recorded for
	// the log.
	Usage      AccessTotals         `json:"usage"`
	Agreements []DirectoryAgreement `json:"agreements"` // approved versions, newest first
}

// DirectoryAgreement is one approved agreement version, its terms, and the
// log entries of its changes.
type DirectoryAgreement struct {
	Version            int       `json:"version"`
	Scopes             []string  `json:"scopes"`
	Purpose            string    `json:"purpose"`
	RetentionDays      int       `json:"retention_days"`
	ExpiresAt          time.Time `json:"expires_at"`
	SecurityAssessedAt time.Time `json:"security_assessed_at,omitzero"`
	ApprovedAt         time.Time `json:"approved_at"`
	// TermsURL is the path of the terms document whose hash the log's
	// approval entry holds.
	TermsURL string `json:"terms_url"`
	// Events are its approval, suspensions, resumptions and expiry, in
	// the order they were made.
	Events []DirectoryEvent `json:"events"`
}

// DirectoryEvent is one agreement change and where the log holds it.
type DirectoryEvent struct {
	Action      string    `json:"action"`
	EffectiveAt time.Time `json:"effective_at"`
	EventID     string    `json:"event_id"`
	// LogIndex is the index of its entry; nil until the entry is in the
	// log (within seconds).
	LogIndex *uint64 `json:"log_index"`
}

// DirectoryStore is what the directory is read from.
type DirectoryStore interface {
	Partners(ctx context.Context) ([]*Partner, error)
	Agreements(ctx context.Context, partnerID int64) ([]*Agreement, error)
	AgreementEvents(ctx context.Context, partnerID int64) ([]*AgreementEvent, error)
	PartnerAccessTotals(ctx context.Context, partnerID int64) (AccessTotals, error)
}

// TermsPath is the path of the terms document of version of the partner
// with clientID.
func TermsPath(clientID string, version int) string {
	return fmt.Sprintf("/api/v1/partners/%s/agreements/%d/terms", url.PathEscape(clientID), version)
}

// Directory returns the public partner directory at now: every partner
// that ever had an approved agreement, oldest first.
func Directory(ctx context.Context, s DirectoryStore, now time.Time) ([]DirectoryPartner, error) {
	ps, err := s.Partners(ctx)
	if err != nil {
		return nil, err
	}
	out := []DirectoryPartner{}
	for _, p := range ps {
		agreements, err := s.Agreements(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		events, err := s.AgreementEvents(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		d := DirectoryPartner{ClientID: p.ClientID, Name: p.Name, Status: p.Status, Agreements: []DirectoryAgreement{}}
		for _, a := range agreements {
			if a.ApprovedAt.IsZero() {
				continue
			}
			da := DirectoryAgreement{Version: a.Version, Scopes: a.Scopes, Purpose: a.Purpose, RetentionDays: a.RetentionDays,
				ExpiresAt: a.ExpiresAt, SecurityAssessedAt: a.SecurityAssessedAt, ApprovedAt: a.ApprovedAt,
				TermsURL: TermsPath(p.ClientID, a.Version), Events: []DirectoryEvent{}}
			for _, e := range events {
				if e.Version == a.Version {
					da.Events = append(da.Events, directoryEvent(e))
				}
			}
			d.Agreements = append(d.Agreements, da)
		}
		if len(d.Agreements) == 0 {
			continue // never approved: it never reached anyone's data
		}
		if d.Status != PartnerSuspended && !now.Before(d.Agreements[0].ExpiresAt) {
			d.Status = AgreementExpired
		}
		if d.Usage, err = s.PartnerAccessTotals(ctx, p.ID); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func directoryEvent(e *AgreementEvent) DirectoryEvent {
	d := DirectoryEvent{Action: e.Action, EffectiveAt: e.EffectiveAt, EventID: fmt.Sprintf("%x", e.EventID)}
	if e.Integrated {
		i := e.LogIndex
		d.LogIndex = &i
	}
	return d
}
