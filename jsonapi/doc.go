// Package jsonapi holds the conventions that every JSON API of glasshouse
// shares (the member API in web, the partner Graph API in graph): strict
// decoding of request bodies, the one mapping of error codes to HTTP
// statuses, and errors that carry a Retry-After.
package jsonapi
