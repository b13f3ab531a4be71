// Package testbin finds the programs that tests run as processes of their
// own (Debian's nginx and nats-server, which .ci/run installs), and free
// loopback ports for them to listen on.
package testbin
