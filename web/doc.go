// Package web serves glasshouse's first-party HTTP API under /api/v1, the
// real-time message stream (WebSocket or server-sent events), /healthz and
// /metrics.
//
// One route table (routes.go) names every endpoint with a Go 1.22 pattern.
// Handlers are thin: decode, validate, one store call, respond. They return
// errors, and fail turns every error into a status and a JSON body
// {"error": code, "message": text} through package httpio, the one layer
// that answers errors for every surface; internal details are logged,
// never sent. Sessions, their cookie, login and its limits are package
// signin's (Config.SignIn), which the pages and the OAuth login page share;
// passwords and tokens never reach a log line.
//
// The stream subscribes to the hub before it reads the backlog from the
// store, then forwards live events it has not sent yet, so a client that
// resumes from the last message id it saw misses nothing and gets nothing
// twice.
package web
