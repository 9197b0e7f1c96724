// The cluster DNS of the test node (hack/node): CoreDNS with only the plugins it needs. CoreDNS's own
// main links every plugin (cloud DNS providers included), which takes minutes longer to build. There is
// no forward plugin at all: names outside the zones in the Corefile are refused, never sent to this
// machine's resolver, so pods see exactly what a cluster serves.
package main

import (
	"fmt"
	"os"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func main() {
	// Execution order, as in CoreDNS's plugin.cfg.
	if err := dnsserver.SetDirectives([]string{"bind", "errors", "cache", "kubernetes"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	coremain.Run()
}
