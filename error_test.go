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

// TestUnavailable: errors that say the database does not answer are
// EUNAVAILABLE (503, retried), with a message that says so and no detail;
// other database errors stay internal.
func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"connection refused", fmt.Errorf("session: failed to connect: %w", refused), glasshouse.EUNAVAILABLE},
		{"admin shutdown", fmt.Errorf("commit: %w", sqlStateError("57P01")), glasshouse.EUNAVAILABLE},
		{"cannot connect now", sqlStateError("57P03"), glasshouse.EUNAVAILABLE},
		{"connection failure", sqlStateError("08006"), glasshouse.EUNAVAILABLE},
		{"unique violation", sqlStateError("23505"), glasshouse.EINTERNAL},
		{"anything else", errors.New("boom"), glasshouse.EINTERNAL},
		{"coded", fmt.Errorf("x: %w", glasshouse.Errorf(glasshouse.ENOTFOUND, "No such member.")), glasshouse.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := glasshouse.ErrorCode(tc.err); got != tc.want {
				t.Errorf("ErrorCode = %q; want %q", got, tc.want)
			}
			if tc.want == glasshouse.EUNAVAILABLE {
				if msg := glasshouse.ErrorMessage(tc.err); msg == "" || msg == "Internal error." || msg == tc.err.Error() {
					t.Errorf("ErrorMessage = %q; want a message without the cause", msg)
				}
			}
		})
	}
}
