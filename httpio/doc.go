// Package httpio holds how glasshouse reads HTTP requests and answers
// errors, for every surface: the JSON APIs (the member API in web, the
// partner Graph API in graph, the authorization server's endpoints in
// oauth) and the server-rendered pages (ui and its packages, oauth's login
// and consent pages).
//
// Reading: strict decoding of JSON request bodies (Decode) and of integers
// in paths and queries (ParseInt).
//
// Answering errors, in one layer: Status is the one mapping of error codes
// to HTTP statuses; NewProblem says what a client is told of an error (the
// status, the code, the message, and the wait of a *RetryError), logging
// internal errors, whose details are never sent; SetRetryAfter writes
// Retry-After the one way, in whole seconds rounded up, at least one.
// Problem.Write sends an error as JSON {"error": code, "message": text};
// a page shows the Problem's message with its status instead. WriteJSON is
// the one writer of JSON bodies (no-store, nosniff, one line).
package httpio
