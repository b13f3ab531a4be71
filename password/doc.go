// Package password hashes and verifies member passwords with argon2id.
//
// Hashes are PHC strings such as
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with the parameters OWASP recommends for argon2id (19 MiB of memory, two
// passes, one lane), a 16-byte random salt and a 32-byte key, both in
// unpadded standard base64. Verify reads the parameters from the string, so
// hashes made with other (bounded) parameters still verify after a change
// of defaults.
//
// Each hash needs its memory at once, so at most GOMAXPROCS hashes run at
// the same time; the others wait. That bounds the memory a burst of logins
// can take.
package password
