package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestBenchGraph runs `glasshouse bench --graph` briefly, with every kind of
// call in its mix: the partners and members are set up through the OAuth
// flow, every call is answered as its kind should be, and the log verifies
// and accounts for every call, with counts equal to the clients'.
func TestBenchGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a server: not in -short mode")
	}
	clearBenchEnv(t)
	for _, name := range []string{"GRAPH", "CLIENTS", "GRAPH_MIX", "REQUESTS", "JSON", "DURATION"} {
		t.Setenv("GLASSHOUSE_"+name, "")
		os.Unsetenv("GLASSHOUSE_" + name)
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	defer func(old func() (string, error)) { benchExecutable = old }(benchExecutable)
	benchExecutable = func() (string, error) { return bin, nil }

	for _, tc := range []struct {
		mix   string
		kinds []string
	}{
		{"mix", []string{"me", "friends", "send", "read", "denied"}},
		{"friends", []string{"friends"}},
	} {
		t.Run(tc.mix, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			const requests = 300
			var out, errs bytes.Buffer
			err := runBench(ctx, []string{"--graph", "--graph-mix", tc.mix, "--clients", "4", "--requests", "300", "--json"}, &out, &errs)
			t.Logf("bench output:\n%s%s", out.String(), errs.String())
			if err != nil {
				t.Fatal(err)
			}
			var res graphResult
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("--json printed %q: %v", out.String(), err)
			}
			if res.Requests != requests || res.ReqPerSec <= 0 || res.P50 <= 0 || res.P99 < res.P50 || res.Unexpected != 0 {
				t.Errorf("result: %d requests at %.0f/s, p50 %v, p99 %v, %d unexpected; want %d requests, all as expected",
					res.Requests, res.ReqPerSec, res.P50, res.P99, res.Unexpected, requests)
			}
			for _, k := range tc.kinds {
				if res.Kinds[k].N == 0 {
					t.Errorf("no %s call in the run: %+v", k, res.Kinds)
				}
			}
			if len(res.Kinds) != len(tc.kinds) {
				t.Errorf("kinds %+v; want only %v", res.Kinds, tc.kinds)
			}
			if res.CPU == nil || res.CPU.Node <= 0 {
				t.Errorf("CPU per request: %+v", res.CPU)
			}
			v := res.Verification
			if v == nil || !v.ok() || !v.CountsEqual || v.Findings != 0 {
				t.Fatalf("verification: %+v", v)
			}
			// Every call of the run, and the setup's own (/me and /me/friends
			// of each member), is in the log, and nothing else.
			if v.Receipts != v.Calls || v.Calls < requests || v.AccessEntries != uint64(v.Calls) || v.Missing != 0 || v.Extra != 0 {
				t.Errorf("verification: %d calls, %d receipts, %d access entries, %d missing, %d extra", v.Calls, v.Receipts, v.AccessEntries, v.Missing, v.Extra)
			}
			var sum uint64
			for _, c := range v.Counts {
				if c.N != c.Calls {
					t.Errorf("count %+v differs", c)
				}
				sum += c.N
			}
			if sum < uint64(v.Calls) {
				t.Errorf("the counts add up to %d, fewer than the %d calls", sum, v.Calls)
			}
		})
	}
}

// TestBenchGraphFlags: the mix parses, and flags of the other mode are
// refused before anything starts.
func TestBenchGraphFlags(t *testing.T) {
	clearBenchEnv(t)
	for s, want := range map[string]graphMix{
		"mix":               defaultGraphMix,
		"friends":           {graphFriends: 100},
		"me=50, friends=50": {graphMe: 50, graphFriends: 50},
		"denied=10,read=90": {graphRead: 90, graphDenied: 10},
		"me=20,friends=40,send=15,read=15,denied=10": defaultGraphMix,
	} {
		got, err := parseGraphMix(s)
		if err != nil || got != want {
			t.Errorf("parseGraphMix(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"me=50", "friends=101", "likes=100", "me=x", "friends=50,friends=60"} {
		if _, err := parseGraphMix(s); err == nil {
			t.Errorf("parseGraphMix(%q): no error", s)
		}
	}
	m := graphMix{graphMe: 20, graphFriends: 80}
	if m.pick(0) != graphMe || m.pick(19) != graphMe || m.pick(20) != graphFriends || m.pick(99) != graphFriends {
		t.Error("pick does not follow the shares")
	}
	for _, args := range [][]string{
		{"--graph", "--senders", "8"},
		{"--graph", "--url", "http://127.0.0.1:1"},
		{"--graph", "--nodes", "2"},
		{"--graph", "--clients", "0"},
		{"--graph", "--graph-mix", "me=10"},
		{"--graph", "--requests", "10", "--cpuprofile", "/tmp/x"},
		{"--clients", "8"}, // without --graph
		{"--json"},
	} {
		var out, errs bytes.Buffer
		if err := runBench(context.Background(), args, &out, &errs); err == nil || strings.Contains(out.String(), "node 1:") {
			t.Errorf("bench %q: err %v, output %q; want refused before starting", args, err, out.String())
		}
	}
}
