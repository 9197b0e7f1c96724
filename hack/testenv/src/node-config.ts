/**
 * The test node's configuration files (node.ts writes them into the slot's directory). Every path of
 * state is the slot's own, so nothing lands in the machine's /var/lib/containerd, /etc/cni,
 * /var/lib/kubelet or /var/log/pods, and two nodes never share a file.
 */
import { join } from 'node:path';
import type { NodeLayout } from './node-slot.ts';

export const clusterDomain = 'cluster.local';

/** Where containerd finds a registry's hosts.toml (`<dir>/<host:port>/hosts.toml`). */
export const registryConfigDir = (layout: NodeLayout) => join(layout.stateDir, 'registries');

/** containerd 2.x, config version 3. */
export function containerdConfig(layout: NodeLayout, sandboxImage: string): string {
  const { stateDir, runDir } = layout;
  return `version = 3
root = "${join(stateDir, 'containerd')}"
state = "${join(runDir, 'containerd')}"
# opt would install into the machine's /opt/containerd.
disabled_plugins = ["io.containerd.internal.v1.opt"]

[grpc]
  address = "${layout.containerdSocket}"

[ttrpc]
  address = "${layout.containerdSocket}.ttrpc"

[plugins.'io.containerd.nri.v1.nri']
  # The CRI plugin needs the NRI plugin loaded; disabled, it opens no socket at the machine's fixed path.
  disable = true
  socket_path = "${join(runDir, 'nri.sock')}"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.registry]
    # Per-registry hosts.toml files, read at every pull: none unless a test adds a registry
    # (Cluster.trustPlainHttpRegistry).
    config_path = "${registryConfigDir(layout)}"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    # No registry is reachable: the sandbox image is imported from a tar before the kubelet starts.
    sandbox = "${sandboxImage}"

[plugins.'io.containerd.cri.v1.runtime']
  # This VM takes CAP_SYS_RESOURCE from every process; without this every pod sandbox fails with
  # "runc create failed: ... can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # The pods' network namespaces are mounted under the slot's state, not the machine's /run/netns.
  netns_mounts_under_state_dir = true
  tolerate_missing_hugetlb_controller = true
  disable_hugetlb_controller = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "${join(stateDir, 'cni')}"
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false

[plugins.'io.containerd.grpc.v1.cri']
  # Inside the node's network namespace: only the kubelet there reaches it.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

/** The pods' network: a bridge with host-local addresses, no masquerade (nothing leaves this machine). */
export function cniConfig(layout: NodeLayout): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'gco',
      plugins: [
        {
          type: 'bridge',
          bridge: layout.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: join(layout.stateDir, 'cni-ipam'),
            ranges: [[{ subnet: layout.podSubnet, gateway: layout.gateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

export function kubeletConfig(layout: NodeLayout, clientCaPath: string): string {
  return `${JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // The hosts of this project are cgroup v1; kubelet 1.35+ refuses it unless told.
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      // The slot's own cgroup subtree (node.sh makes it), so two nodes never share kubepods.
      cgroupRoot: `/${layout.cgroup}`,
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
      address: layout.gateway,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: clientCaPath },
      },
      authorization: { mode: 'Webhook' },
      clusterDomain,
      clusterDNS: [layout.gateway],
      // Pods with dnsPolicy Default get this instead of the machine's resolver: cluster DNS only.
      resolvConf: join(layout.stateDir, 'resolv.conf'),
      podLogsDir: join(layout.stateDir, 'pod-logs'),
      rotateCertificates: false,
      serializeImagePulls: false,
      // The disk is shared with other work: evict only when it is really full.
      evictionHard: {
        'memory.available': '100Mi',
        'nodefs.available': '1%',
        'nodefs.inodesFree': '1%',
        'imagefs.available': '1%',
      },
      kubeAPIQPS: 50,
      kubeAPIBurst: 100,
    },
    null,
    2,
  )}\n`;
}

export function podResolvConf(layout: NodeLayout): string {
  return `nameserver ${layout.gateway}\n`;
}

/**
 * Cluster DNS for the zones a cluster serves, and nothing else: no forward plugin (hack/node/coredns
 * does not even build one), so other names are refused instead of leaving the machine.
 */
export function corefile(layout: NodeLayout, kubeconfigPath: string): string {
  return `${clusterDomain}:53 in-addr.arpa:53 ip6.arpa:53 {
    bind ${layout.gateway}
    errors
    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfigPath} envtest
        pods insecure
        ttl 5
    }
    cache 5
}
`;
}
