// Package pgtest gives tests a fresh PostgreSQL database each, on the server
// named by the GLASSHOUSE_TEST_POSTGRES environment variable, and skips them
// when it is unset.
package pgtest
