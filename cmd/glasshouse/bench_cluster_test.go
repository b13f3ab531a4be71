package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestBenchCluster runs `glasshouse bench --nodes 2` briefly on PostgreSQL,
// with the nats-server it embeds: both nodes start, senders and listeners
// spread over them, cross-node deliveries are timed, and every listener
// gets every acknowledged message once, in order.
func TestBenchCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of two nodes: not in -short mode")
	}
	db := clusterPostgres(t)
	clearBenchEnv(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	defer func(old func() (string, error)) { benchExecutable = old }(benchExecutable)
	benchExecutable = func() (string, error) { return bin, nil }

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	err = runBench(ctx, []string{"--db", db, "--nodes", "2", "--senders", "4", "--duration", "1s", "--rate", "100"}, &out, &errs)
	t.Logf("bench output:\n%s%s", out.String(), errs.String())
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"2 node(s)", "a nats-server embedded in this bench process", "node 2: http://"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, run := range []string{"4 senders", "paced 100/s"} {
		row := benchRow(t, text, run)
		// run msgs/s send-p50 send-p99 local-p50 local-p99 cross-p50 cross-p99 sent complete
		if len(row) != 10 || row[9] != "yes" {
			t.Fatalf("%s: row %q: want 10 columns ending in yes", run, row)
		}
		for i, col := range row[2:8] {
			if _, err := time.ParseDuration(col); err != nil {
				t.Errorf("%s: column %d = %q: want a latency (senders and listeners on both nodes)", run, i+2, col)
			}
		}
	}
	if n := strings.Count(text, "every listener (2) got every acknowledged message once, in order"); n != 2 {
		t.Errorf("completeness confirmed for %d runs; want 2", n)
	}
	if n := strings.Count(text, "  cross-node hop p50 "); n != 2 {
		t.Errorf("cross-node hop reported for %d runs; want 2", n)
	}
	if n := strings.Count(text, "CPU µs per message: nodes "); n != 2 {
		t.Errorf("CPU reported for %d runs; want 2", n)
	}
}

// benchRow returns the fields of the results row of run, the run's name
// counted as one field.
func benchRow(t *testing.T, out, run string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, run+" "); ok {
			return append([]string{run}, strings.Fields(rest)...)
		}
	}
	t.Fatalf("no row for %q", run)
	return nil
}

// clearBenchEnv keeps the environment's GLASSHOUSE_* settings out of a
// test's bench flags.
func clearBenchEnv(t *testing.T) {
	for _, name := range []string{"URL", "DB", "NATS", "NODES", "LISTENERS", "CPUPROFILE", "STREAMS"} {
		t.Setenv("GLASSHOUSE_"+name, "") // restored when t ends
		os.Unsetenv("GLASSHOUSE_" + name)
	}
}

// TestBenchRefuses: flags that cannot go together are refused before
// anything starts.
func TestBenchRefuses(t *testing.T) {
	clearBenchEnv(t)
	for _, args := range [][]string{
		{"--nodes", "2"}, // SQLite
		{"--nodes", "2", "--db", "sqlite:/tmp/x.db"},
		{"--nodes", "0"},
		{"--url", "http://127.0.0.1:1", "--nodes", "2"},
		{"--url", "http://127.0.0.1:1", "--nats", "nats://127.0.0.1:4222"},
		{"--senders", "0"},
	} {
		var out, errs bytes.Buffer
		if err := runBench(context.Background(), args, &out, &errs); err == nil {
			t.Errorf("bench %q: no error", args)
		}
	}
}

// TestCheckDelivery: the completeness check finds every way a stream can
// be wrong.
func TestCheckDelivery(t *testing.T) {
	acked := map[int64]bool{10: true, 11: true, 13: true}
	r := func(id, seq int64) benchRecv { return benchRecv{id: id, conv: 1, seq: seq} }
	for _, c := range []struct {
		name string
		recv []benchRecv
		want benchDelivery
	}{
		{"all once, in order, with an unacknowledged send between", []benchRecv{r(10, 1), r(11, 2), r(12, 3), r(13, 4)}, benchDelivery{received: 4}},
		{"one missing", []benchRecv{r(10, 1), r(13, 3)}, benchDelivery{received: 2, missing: 1, gaps: 1}},
		{"a duplicate", []benchRecv{r(10, 1), r(11, 2), r(11, 2), r(13, 3)}, benchDelivery{received: 4, duplicates: 1}},
		{"out of order", []benchRecv{r(11, 2), r(10, 1), r(13, 3)}, benchDelivery{received: 3, disorder: 1}},
		{"an unacknowledged message lost", []benchRecv{r(10, 1), r(11, 2), r(13, 4)}, benchDelivery{received: 3, gaps: 1}},
	} {
		got := checkDelivery(c.recv, acked)
		if got != c.want {
			t.Errorf("%s: got %+v; want %+v", c.name, got, c.want)
		}
		if got.complete() != (c.want == benchDelivery{received: len(c.recv)}) {
			t.Errorf("%s: complete() = %v", c.name, got.complete())
		}
	}
}

// TestBenchTxn: a send's client_txn_id carries its sender and start time
// back to the listeners, and stays within the API's 64 bytes.
func TestBenchTxn(t *testing.T) {
	run := "lx2k9c3d1f0"
	txn := benchTxn(run, 255, 1234567, 987654321012*time.Nanosecond)
	if len(txn) > 64 {
		t.Errorf("%q is %d bytes", txn, len(txn))
	}
	i, t0, ok := parseBenchTxn(run, txn)
	if !ok || i != 255 || t0 != 987654321012*time.Nanosecond {
		t.Errorf("parse %q: %d %v %v", txn, i, t0, ok)
	}
	if _, _, ok := parseBenchTxn("other", txn); ok {
		t.Error("a txn of another run parsed")
	}
}
