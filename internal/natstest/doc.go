// Package natstest runs a real nats-server for the tests of the cluster:
// Debian's (apt-get install nats-server; .ci/run installs it), or the one
// $GLASSHOUSE_NATS_SERVER names, as a process of its own on a loopback
// port, which a test stops and starts again on the same port, as an
// operator restarts NATS. Without the binary the tests skip, or fail
// under CI.
package natstest
