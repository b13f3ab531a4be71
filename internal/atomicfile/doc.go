// Package atomicfile writes small files (keys, state, credentials) so that a
// crash leaves either the old content or the new one, never a torn or
// empty file: the bytes go to a synced temporary file in the same folder,
// which is then moved into place, and the folder is synced so that the
// move itself survives a power loss.
package atomicfile
