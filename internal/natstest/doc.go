// Package natstest runs a real NATS server (github.com/nats-io/nats-server,
// the same code as the nats-server binary) in the test's process, on a
// loopback port, for the tests of the cluster: it can be stopped and
// started again on the same port, as an operator restarts NATS.
package natstest
