package accesslog_test

import (
	"slices"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/accesslog"
)

func TestMissingCounters(t *testing.T) {
	recs := func(counters ...uint64) []*glasshouse.AccessRecord {
		var out []*glasshouse.AccessRecord
		for _, c := range counters {
			out = append(out, &glasshouse.AccessRecord{Counter: c})
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		after, end uint64
		recs       []*glasshouse.AccessRecord
		want       []uint64
	}{
		{"none", 0, 0, nil, []uint64{}},
		{"contiguous", 0, 3, recs(1, 2, 3), []uint64{}},
		{"after a page", 2, 4, recs(3, 4), []uint64{}},
		{"hole", 0, 4, recs(1, 4), []uint64{2, 3}},
		{"missing tail", 0, 3, recs(1), []uint64{2, 3}},
		{"missing head", 5, 8, recs(8), []uint64{6, 7}},
		{"all missing", 0, 2, nil, []uint64{1, 2}},
		{"newer than the count", 0, 1, recs(1, 2), []uint64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := accesslog.MissingCounters(tc.after, tc.end, tc.recs); !slices.Equal(got, tc.want) || got == nil {
				t.Errorf("MissingCounters(%d, %d) = %#v, want %v", tc.after, tc.end, got, tc.want)
			}
		})
	}
}
