// Package nginxtest runs Debian's nginx for tests, with the site
// configuration that deploy/nginx/glasshouse.conf gives operators, in
// front of the nodes a test starts: the same file, with only its upstream
// servers and its listen address replaced.
package nginxtest
