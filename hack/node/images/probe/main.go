// A test image for the node (hack/testenv/test/node.test.ts): one static binary that reports, from
// inside a pod, what the tests cannot see from outside.
//
//	probe sleep               wait for SIGTERM
//	probe report              print a JSON report: identity, confinement, DNS, and a ConfigMap list
//	                          through the kubernetes Service with the pod's ServiceAccount token
//	probe write FILE CONTENT  write CONTENT to FILE
//	probe cat FILE            print FILE
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) < 2 {
		fail("usage: probe sleep|report|write FILE CONTENT|cat FILE")
	}
	switch os.Args[1] {
	case "sleep":
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
	case "report":
		out, _ := json.MarshalIndent(report(), "", "  ")
		fmt.Println(string(out))
	case "write":
		if len(os.Args) != 4 {
			fail("usage: probe write FILE CONTENT")
		}
		if err := os.WriteFile(os.Args[2], []byte(os.Args[3]), 0o644); err != nil {
			fail(err.Error())
		}
	case "cat":
		if len(os.Args) != 3 {
			fail("usage: probe cat FILE")
		}
		data, err := os.ReadFile(os.Args[2])
		if err != nil {
			fail(err.Error())
		}
		os.Stdout.Write(data)
	default:
		fail("unknown command " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(1)
}

type lookup struct {
	Addresses []string `json:"addresses,omitempty"`
	Error     string   `json:"error,omitempty"`
}

type apiResult struct {
	URL        string   `json:"url"`
	Status     int      `json:"status,omitempty"`
	ConfigMaps []string `json:"configMaps,omitempty"`
	Error      string   `json:"error,omitempty"`
}

func report() map[string]any {
	status, _ := os.ReadFile("/proc/self/status")
	resolvConf, _ := os.ReadFile("/etc/resolv.conf")
	rootWrite := "ok"
	if err := os.WriteFile("/probe-write-test", []byte("x"), 0o644); err != nil {
		rootWrite = err.Error()
	}
	return map[string]any{
		"uid":        os.Getuid(),
		"gid":        os.Getgid(),
		"capEff":     statusField(string(status), "CapEff"),
		"seccomp":    statusField(string(status), "Seccomp"),
		"noNewPrivs": statusField(string(status), "NoNewPrivs"),
		"rootWrite":  rootWrite,
		"resolvConf": string(resolvConf),
		"dns": map[string]lookup{
			"kubernetes.default.svc.cluster.local": resolve("kubernetes.default.svc.cluster.local"),
			// A short name, through the search path the kubelet writes.
			"kubernetes.default": resolve("kubernetes.default"),
			// Outside the cluster: must not resolve, since cluster DNS never forwards.
			"example.com": resolve("example.com"),
		},
		"api": listConfigMaps(),
	}
}

func statusField(status, name string) string {
	for _, line := range strings.Split(status, "\n") {
		if value, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

func resolve(name string) lookup {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := (&net.Resolver{PreferGo: true}).LookupHost(ctx, name)
	if err != nil {
		return lookup{Error: err.Error()}
	}
	return lookup{Addresses: addrs}
}

// listConfigMaps does what in-cluster client configuration does: the kubernetes Service from the
// environment, the projected token, and TLS verified against the token's ca.crt only.
func listConfigMaps() apiResult {
	host := net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	namespace, err := os.ReadFile(serviceAccountDir + "/namespace")
	result := apiResult{URL: "https://" + host + "/api/v1/namespaces/" + string(namespace) + "/configmaps"}
	if err != nil {
		result.Error = err.Error()
		return result
	}
	token, err := os.ReadFile(serviceAccountDir + "/token")
	if err != nil {
		result.Error = err.Error()
		return result
	}
	caPEM, err := os.ReadFile(serviceAccountDir + "/ca.crt")
	if err != nil {
		result.Error = err.Error()
		return result
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		result.Error = "ca.crt holds no certificate"
		return result
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	req, _ := http.NewRequest(http.MethodGet, result.URL, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	res, err := client.Do(req)
	if err != nil {
		result.Error = err.Error()
		return result
	}
	defer res.Body.Close()
	result.Status = res.StatusCode
	body, _ := io.ReadAll(res.Body)
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		result.Error = fmt.Sprintf("%v: %s", err, body)
		return result
	}
	for _, item := range list.Items {
		result.ConfigMaps = append(result.ConfigMaps, item.Metadata.Name)
	}
	return result
}
