package failtest_test

import (
	"testing"

	"github.com/glasshouse/glasshouse/internal/failtest"
)

func TestRun(t *testing.T) {
	if failed := failtest.Run(t, func(testing.TB) {}); len(failed) != 0 {
		t.Errorf("a passing f failed: %q", failed)
	}
	reached := false
	failed := failtest.Run(t, func(tb testing.TB) {
		tb.Errorf("first %d", 1)
		if !tb.Failed() {
			t.Error("Failed() is false after Errorf")
		}
		tb.Fatal("second")
		reached = true
	})
	if len(failed) != 2 || failed[0] != "first 1" || failed[1] != "second" {
		t.Errorf("failures %q; want first 1, second", failed)
	}
	if reached {
		t.Error("f went on after Fatal")
	}
}
