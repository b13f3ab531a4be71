// Package messenger is the member's side of glasshouse as people meet it:
// the landing page, sign-up, sign-in and sign-out, friends (find by handle,
// requests, blocks), the conversations list with unread counts and each
// conversation's last message and its time, and one conversation with its
// history, a send form and live delivery.
//
// The pages are server-rendered inside ui's layout and work without
// JavaScript: every form posts back, a good post redirects (post, redirect,
// get), a bad one renders the form again with the store's message next to
// the field and nothing written. static/js/live.js adds live updates: it
// follows the member's stream (/api/v1/stream, server-sent events, resumed
// from a cursor the page gives it) to append new messages to the open
// conversation and to bump unread counts and previews on the list, and it
// sends messages through the JSON API without a reload.
//
// Signing in is the signin.Service's that the Kit holds, and sign-up and
// sign-out are the web.Server's (Accounts), so that the pages and the API
// share one session, one set of rate limits, and sign-out closes the
// session's streams.
package messenger
