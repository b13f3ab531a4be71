// Package clientip tells the address of the client that made a request,
// for the limits kept per address (logins, sign-ups, partner sign-ins,
// /authorize). Behind a reverse proxy every request comes from the proxy:
// Behind then takes the client's address from X-Forwarded-For, trusting
// only what the configured proxies wrote.
package clientip
