package glasshouse_test

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// sqlStateError is a driver error with a SQLSTATE, as pgx's are.
type sqlStateError string

func (e sqlStateError) Error() string    { return "SQLSTATE " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

// TestUnavailable: errors that say the database does not answer are told
// from the others, wrapped or not.
func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("session: failed to connect: %w", refused), true},
		{"admin shutdown", fmt.Errorf("commit: %w", sqlStateError("57P01")), true},
		{"cannot connect now", sqlStateError("57P03"), true},
		{"connection failure", sqlStateError("08006"), true},
		{"unique violation", sqlStateError("23505"), false},
		{"anything else", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if got := glasshouse.Unavailable(tc.err); got != tc.want {
			t.Errorf("%s: Unavailable = %v; want %v", tc.name, got, tc.want)
		}
	}
}
