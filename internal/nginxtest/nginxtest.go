package nginxtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/testbin"
)

var (
	upstreamRE = regexp.MustCompile(`(?m)^\s*server\s+\S+:\d+[^;]*;\n`)
	listenRE   = regexp.MustCompile(`(?m)^\s*listen\s+[^;]+;\n`)
)

// Proxy is a running nginx.
type Proxy struct {
	URL string // http://127.0.0.1:PORT

	cmd  *exec.Cmd
	done chan error
}

// Start runs nginx with site (the text of deploy/nginx/glasshouse.conf) in
// front of the nodes (host:port each), listening on a free loopback port,
// until the test ends. It returns once nginx accepts connections.
func Start(tb testing.TB, site string, nodes ...string) *Proxy {
	tb.Helper()
	bin := testbin.Require(tb, "nginx", "GLASSHOUSE_NGINX", "nginx")
	if len(nodes) == 0 {
		tb.Fatal("nginxtest: no nodes")
	}
	dir, err := os.MkdirTemp("", "glasshouse-nginx-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })

	port := testbin.FreePort(tb)
	var servers strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&servers, "\tserver %s max_fails=1 fail_timeout=5s;\n", n)
	}
	first := true
	site = upstreamRE.ReplaceAllStringFunc(site, func(string) string {
		if first {
			first = false
			return servers.String()
		}
		return ""
	})
	first = true
	site = listenRE.ReplaceAllStringFunc(site, func(string) string {
		if first {
			first = false
			return fmt.Sprintf("\tlisten 127.0.0.1:%d;\n", port)
		}
		return ""
	})
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;" // workers would otherwise run as nobody, who cannot reach dir
	}
	main := fmt.Sprintf(`%s
worker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	include %[2]s/glasshouse.conf;
}
`, user, dir)
	for name, text := range map[string]string{"nginx.conf": main, "glasshouse.conf": site} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	var out bytes.Buffer
	p := &Proxy{URL: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	p.cmd.Stdout, p.cmd.Stderr = &out, &out
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("nginxtest: start %s: %v", bin, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	tb.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt) // a fast shutdown
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	for deadline := time.Now().Add(time.Minute); ; {
		select {
		case err := <-p.done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			tb.Fatalf("nginxtest: nginx exited (%v):\n%s\n%s", err, out.String(), log)
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			tb.Fatalf("nginxtest: nginx does not listen on %d after a minute", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitHealthy polls url's /healthz until it answers 200, for at most a
// minute.
func WaitHealthy(tb testing.TB, url string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if ctx.Err() != nil {
			tb.Fatalf("nginxtest: %s/healthz not healthy after a minute (last: %v)", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
