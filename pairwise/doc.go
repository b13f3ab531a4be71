// Package pairwise derives the member ids that partners see. A partner never
// learns a member's internal id: it sees HMAC-SHA256(key, client id, member
// id), so one member has a different id at every partner and a stable id at
// each, and two partners cannot join their data on it (OpenID Connect Core
// §8.1, pairwise subject identifiers).
package pairwise
