// `tilt up` without Tilt, Docker or a cluster. hack/tiltfile-check executes the Tiltfile with stubs of
// the Tilt builtins it uses (with Tilt's parameter names; kustomize() really renders, with kubectl) and
// prints every call. This checks those calls against what they refer to: the Dockerfiles, the files in
// the repository and the rendered YAML, where a mistake would otherwise show only on a `tilt up`.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { controlPlaneBinDir, repoRoot, run, runOk, startProcess, tempDir, waitFor } from '../src/index.ts';

interface Call {
  fn: string;
  args: Record<string, any>;
}

async function checker(): Promise<string> {
  return (await runOk('bash', [join(repoRoot, 'hack/tiltfile-check/build.sh')], { timeoutMs: 600_000 })).trim();
}

async function kubectl(): Promise<string> {
  const path = join(await controlPlaneBinDir(), 'kubectl');
  assert.ok(existsSync(path), `${path} is missing: run \`npm run setup\` (hack/build-control-plane.sh) once`);
  return path;
}

/** Runs the Tiltfile as `tilt up` would load it against `context`; rejects with its error. */
async function loadTiltfile(
  tiltfile: string,
  context = 'kind-kind',
  env: Record<string, string> = {},
): Promise<Call[]> {
  // The build settings (GCO_BUILD_*) only as a test gives them, whatever this process has.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GCO_BUILD_')));
  const out = await runOk(await checker(), ['-kubectl', await kubectl(), '-context', context, tiltfile], {
    cwd: repoRoot,
    timeoutMs: 60_000,
    env: { ...base, ...env },
  });
  return (JSON.parse(out) as { calls: Call[] }).calls;
}

interface Copy {
  srcs: string[];
  /** Where each source lands in the image (absolute), in the order of `srcs`. */
  targets: string[];
  chown?: string;
}
interface Stage {
  args: Map<string, string | undefined>;
  copies: Copy[];
  user?: string;
  entrypoint: string[];
}

/** The COPY (not --from), ARG, WORKDIR, USER and ENTRYPOINT instructions of each stage. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let workdir = '/';
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const [instruction, ...rest] = line.trim().split(/\s+/);
    const stage = stages.at(-1);
    switch (instruction?.toUpperCase()) {
      case 'FROM':
        stages.push({ args: new Map(), copies: [], entrypoint: [] });
        workdir = '/';
        break;
      case 'WORKDIR':
        workdir = posix.resolve(workdir, rest[0] as string);
        break;
      case 'ARG': {
        const [name, value] = (rest[0] as string).split('=');
        stage?.args.set(name as string, value);
        break;
      }
      case 'USER':
        if (stage) stage.user = rest[0];
        break;
      case 'ENTRYPOINT':
        if (stage) stage.entrypoint = JSON.parse(rest.join(' ')) as string[];
        break;
      case 'COPY': {
        const flags = rest.filter((p) => p.startsWith('--'));
        if (flags.some((f) => f.startsWith('--from='))) break;
        const paths = rest.filter((p) => !p.startsWith('--'));
        const dest = posix.resolve(workdir, paths.pop() as string);
        const intoDir = rest.at(-1)?.endsWith('/') || paths.length > 1;
        stage?.copies.push({
          srcs: paths,
          targets: paths.map((s) => (intoDir ? posix.join(dest, posix.basename(s)) : dest)),
          chown: flags.find((f) => f.startsWith('--chown='))?.slice('--chown='.length),
        });
        break;
      }
    }
  }
  return stages;
}

/** `${NAME}` / `$NAME` from the build args, or the ARG's default. */
function expand(value: string, stage: Stage, buildArgs: Record<string, string>): string {
  return value.replace(/\$\{?(\w+)\}?/g, (_, name: string) => buildArgs[name] ?? stage.args.get(name) ?? '');
}

const isUnder = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);
const norm = (p: string) => posix.normalize(p).replace(/^\.\//, '').replace(/\/$/, '');
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const imageName = (image: string) => image.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
const workloadKinds = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod']);

function podSpec(o: any): any {
  if (o.kind === 'Pod') return o.spec;
  if (o.kind === 'CronJob') return o.spec.jobTemplate.spec.template.spec;
  return o.spec?.template?.spec;
}
function containers(o: any): any[] {
  const spec = podSpec(o);
  return spec ? [...(spec.initContainers ?? []), ...(spec.containers ?? [])] : [];
}

/** A port_forwards entry in any of Tilt's forms: 8080, '8080', '8080:80', 'host:8080:80', port_forward(). */
function portForward(pf: any): { local: number; container?: number } {
  if (typeof pf === 'number') return { local: pf };
  if (typeof pf === 'string') {
    const parts = pf.split(':');
    return parts.length === 1
      ? { local: Number(parts[0]) }
      : { local: Number(parts.at(-2)), container: Number(parts.at(-1)) };
  }
  assert.equal(pf.fn, 'port_forward');
  return { local: pf.args.local_port, container: pf.args.container_port ?? undefined };
}

describe('Tiltfile (tilt up, executed without Tilt)', function () {
  this.timeout(600_000);
  let calls: Call[];
  let objects: any[];
  let builds: { ref: string; args: Record<string, any>; stages: Stage[] }[];
  const of = (fn: string) => calls.filter((c) => c.fn === fn);

  before(async () => {
    calls = await loadTiltfile(join(repoRoot, 'Tiltfile'));
    objects = [];
    for (const call of of('k8s_yaml')) {
      for (const y of asList(call.args.yaml)) {
        const text = typeof y === 'string' ? await readFile(join(repoRoot, y), 'utf8') : (y.text as string);
        objects.push(
          ...parseAllDocuments(text)
            .map((d) => d.toJS())
            .filter(Boolean),
        );
      }
    }
    builds = [];
    for (const { args } of of('docker_build')) {
      const dockerfile = join(repoRoot, args.context, args.dockerfile ?? 'Dockerfile');
      assert.ok(existsSync(dockerfile), `docker_build('${args.ref}'): ${dockerfile} does not exist`);
      builds.push({ ref: args.ref, args, stages: parseDockerfile(await readFile(dockerfile, 'utf8')) });
    }
  });

  it("deploys the development overlay and the samples, to kind clusters and the harness's node only", async () => {
    const rendered = of('kustomize').map((c) => norm(c.args.pathToDir));
    assert.deepEqual(rendered.sort(), ['manifests/dev/samples', 'manifests/overlays/development']);
    const allowed = async (context: string) =>
      (await loadTiltfile(join(repoRoot, 'Tiltfile'), context))
        .filter((c) => c.fn === 'allow_k8s_contexts')
        .flatMap((c) => asList(c.args.contexts));
    assert.deepEqual(
      of('allow_k8s_contexts').flatMap((c) => asList(c.args.contexts)),
      ['kind-kind'],
    );
    // The context tilt-ci.test.ts gives the test node.
    assert.deepEqual(await allowed('gco-test-node'), ['gco-test-node']);
    assert.deepEqual(await allowed('gke_prod_europe-west1_main'), []);
  });

  it("builds with Docker's defaults unless told a network and a CA bundle, which goes to the Dockerfiles' secret", async () => {
    for (const { ref, args } of builds) {
      assert.equal(args.network, undefined, ref);
      assert.equal(args.secret, undefined, ref);
    }
    const told = (
      await loadTiltfile(join(repoRoot, 'Tiltfile'), 'kind-kind', {
        GCO_BUILD_NETWORK: 'host',
        GCO_BUILD_CA_CERTIFICATES: '/tmp/bundle.pem',
      })
    ).filter((c) => c.fn === 'docker_build');
    assert.equal(told.length, builds.length);
    for (const { args } of told) {
      assert.equal(args.network, 'host', args.ref);
      assert.deepEqual(args.secret, ['id=ca-certificates,src=/tmp/bundle.pem'], args.ref);
      const dockerfile = await readFile(join(repoRoot, args.context, args.dockerfile), 'utf8');
      assert.match(
        dockerfile,
        /--mount=type=secret,id=ca-certificates\b/,
        `${args.ref}: its Dockerfile mounts no such secret`,
      );
    }
  });

  it('builds each image from files that exist and are exactly what its Dockerfile copies', () => {
    assert.ok(builds.length >= 3);
    for (const { ref, args, stages } of builds) {
      assert.equal(norm(args.context), '.', ref);
      const only = asList<string>(args.only).map(norm);
      assert.ok(only.length > 0, `${ref}: no only=, so every file in the repository would trigger a build`);
      for (const p of only) assert.ok(existsSync(join(repoRoot, p)), `${ref}: only= ${p} does not exist`);
      const sources = stages.flatMap((s) => s.copies.flatMap((c) => c.srcs.map(norm)));
      for (const src of sources) {
        assert.ok(
          only.some((p) => isUnder(src, p)),
          `${ref}: the Dockerfile copies ${src}, which only= leaves out of the build context`,
        );
      }
      for (const p of only) {
        assert.ok(
          sources.some((src) => isUnder(src, p) || isUnder(p, src)),
          `${ref}: only= ${p} is not in the image, yet its changes would trigger builds`,
        );
      }
      for (const name of Object.keys(args.build_args ?? {})) {
        assert.ok(
          stages.some((s) => s.args.has(name)),
          `${ref}: build_args ${name} is no ARG of the Dockerfile`,
        );
      }
    }
  });

  it('live-updates each synced directory to where its image has it, owned by the user it runs as', () => {
    let syncs = 0;
    for (const { ref, args, stages } of builds) {
      const final = stages.at(-1) as Stage;
      for (const step of asList<any>(args.live_update)) {
        assert.equal(step.fn, 'sync', `${ref}: ${step.fn}() in live_update`);
        syncs++;
        const local = norm(step.args.local_path);
        assert.ok(existsSync(join(repoRoot, local)), `${ref}: sync(${local}) does not exist`);
        const copy = final.copies.find((c) => c.srcs.some((s) => isUnder(local, norm(s))));
        assert.ok(copy, `${ref}: sync(${local}) is not copied into the image`);
        const i = copy.srcs.findIndex((s) => isUnder(local, norm(s)));
        const expected = posix.join(copy.targets[i] as string, posix.relative(norm(copy.srcs[i] as string), local));
        assert.equal(step.args.remote_path, expected, `${ref}: sync(${local}) goes elsewhere than the image has it`);
        // Tilt's tar runs as the container's user: it must own what it replaces, in the builds Tilt makes
        // (the Dockerfile's default stays root, read-only to that user).
        assert.ok(copy.chown, `${ref}: ${local} is copied without --chown, so root owns it and tar cannot replace it`);
        assert.equal(expand(copy.chown, final, args.build_args ?? {}), final.user, `${ref}: owner of ${local}`);
        assert.match(expand(copy.chown, final, {}), /^(0|root)(:(0|root))?$/, `${ref}: production owner of ${local}`);
      }
    }
    assert.ok(syncs >= 3);
  });

  it('builds every image the development overlay runs, and runs every image it builds', () => {
    const used = objects.flatMap((o) => containers(o));
    const built = new Set(builds.map((b) => b.ref));
    for (const ref of built) {
      const users = used.filter((c) => imageName(c.image) === ref);
      assert.ok(users.length > 0, `${ref} is built but no workload runs it`);
      // Tilt gives kind its builds without a registry: a pull would fail.
      for (const c of users) assert.notEqual(c.imagePullPolicy, 'Always', `${c.name} would pull ${ref}`);
    }
    const ours = used.map((c) => imageName(c.image)).filter((name) => /^(git-change-operator|gco-)/.test(name));
    assert.ok(ours.length >= 3);
    for (const name of ours) assert.ok(built.has(name), `the overlay runs ${name}, which no docker_build builds`);
  });

  it('runs the live-updated containers with node --watch, writable, with tar overwriting in place', () => {
    let checked = 0;
    for (const { ref, stages } of builds.filter((b) => asList(b.args.live_update).length > 0)) {
      const final = stages.at(-1) as Stage;
      for (const o of objects) {
        for (const c of containers(o).filter((c) => imageName(c.image) === ref)) {
          checked++;
          // The image's entrypoint runs the compiled dist/main.js; the overlay runs the sources Tilt syncs
          // (their main.ts, beside dist/). Tilt cannot restart a Kubernetes container: the process
          // restarts itself on a synced change.
          const compiled = final.entrypoint.at(-1) as string;
          assert.match(compiled, /^[\w-]+\/dist\/main\.js$/, `${ref}: entrypoint`);
          const sources = compiled.replace(/\/dist\/main\.js$/, '/src/main.ts');
          assert.deepEqual(c.command, ['node', '--watch', sources], `${c.name}: command`);
          assert.equal(c.securityContext?.readOnlyRootFilesystem, false, `${c.name}: read-only root filesystem`);
          // GNU tar replaces a file with a new one by default, and node --watch on Linux watches the
          // file it loaded: only the first sync of each file would restart. --overwrite writes in place.
          const tarOptions = (c.env ?? []).find((e: any) => e.name === 'TAR_OPTIONS')?.value;
          assert.equal(tarOptions, '--overwrite', `${c.name}: TAR_OPTIONS`);
          const pod = podSpec(o);
          const uid = String(c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser);
          // The image's USER, which owns the synced sources (checked above).
          assert.equal(uid, final.user?.split(':')[0], `${c.name}: user`);
        }
      }
    }
    assert.ok(checked >= 2);
  });

  it('configures resources that exist, leaves nothing uncategorized and creates the setup first', () => {
    const workloads = objects.filter((o) => workloadKinds.has(o.kind));
    const names = new Set<string>(workloads.map((w) => w.metadata.name));
    const selected = new Map<any, string>();
    const deps = new Map<string, string[]>();
    for (const { args } of of('k8s_resource')) {
      const name = args.new_name || args.workload;
      if (args.workload) assert.ok(names.has(args.workload), `k8s_resource('${args.workload}'): no such workload`);
      assert.ok(!deps.has(name), `two k8s_resource calls for ${name}`);
      deps.set(name, asList<string>(args.resource_deps));
      for (const selector of asList<string>(args.objects)) {
        const [n, kind, namespace] = selector.toLowerCase().split(':');
        const matches = objects.filter(
          (o) =>
            o.metadata.name.toLowerCase() === n &&
            (!kind || o.kind.toLowerCase() === kind) &&
            (!namespace || (o.metadata.namespace ?? 'default').toLowerCase() === namespace),
        );
        assert.equal(matches.length, 1, `${name}: objects selector ${selector} matches ${matches.length} objects`);
        assert.ok(!selected.has(matches[0]), `${selector} is in both ${selected.get(matches[0])} and ${name}`);
        selected.set(matches[0], name);
      }
    }
    for (const w of names) if (!deps.has(w)) deps.set(w, []);
    for (const [name, ds] of deps) for (const d of ds) assert.ok(deps.has(d), `${name} depends on unknown ${d}`);
    // Tilt attaches a Service to the workload its selector picks; everything else needs a resource.
    const attached = (o: any) =>
      o.kind === 'Service' &&
      workloads.some((w) => {
        const labels = (w.kind === 'Pod' ? w.metadata.labels : w.spec.template?.metadata?.labels) ?? {};
        return Object.entries(o.spec.selector ?? {}).every(([k, v]) => labels[k] === v);
      });
    for (const o of objects) {
      if (workloadKinds.has(o.kind) || attached(o)) continue;
      assert.ok(selected.has(o), `${o.metadata.name}:${o.kind} would be applied uncategorized, in no order`);
    }
    // Resources are applied in parallel: every one waits, at least indirectly, for the namespace and CRDs.
    const setup = new Set(
      objects.filter((o) => ['Namespace', 'CustomResourceDefinition'].includes(o.kind)).map((o) => selected.get(o)),
    );
    assert.equal(setup.size, 1, 'the namespace and the CRDs are in one resource');
    const [first] = setup as Set<string>;
    const reaches = (name: string, seen = new Set<string>()): boolean =>
      (deps.get(name) ?? []).some((d) => d === first || (!seen.has(d) && seen.add(d) && reaches(d, seen)));
    for (const name of deps.keys()) if (name !== first) assert.ok(reaches(name), `${name} does not wait for ${first}`);
  });

  it('port-forwards the operator metrics and health and the git server', () => {
    const seen = new Set<number>();
    const forwarded = new Map<string, number[]>();
    for (const { args } of of('k8s_resource')) {
      const workload = objects.find((o) => workloadKinds.has(o.kind) && o.metadata.name === args.workload);
      const declared = containers(workload ?? {}).flatMap((c) => (c.ports ?? []).map((p: any) => p.containerPort));
      for (const pf of asList(args.port_forwards).map(portForward)) {
        assert.ok(!seen.has(pf.local), `local port ${pf.local} is forwarded twice`);
        seen.add(pf.local);
        // Without a container port, Tilt forwards to the local one only if the pod declares it, else to
        // the pod's first declared port.
        assert.ok(pf.container || declared.includes(pf.local), `${args.workload}: ${pf.local} would go elsewhere`);
        forwarded.set(args.workload, [...(forwarded.get(args.workload) ?? []), pf.container ?? pf.local]);
      }
    }
    // Manager metrics, manager health (its --health-address), sidecar metrics.
    assert.deepEqual(forwarded.get('git-change-operator')?.sort(), [8080, 8081, 8082]);
    const server = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gco-dev-git-server');
    const serverPorts = containers(server).flatMap((c) => (c.ports ?? []).map((p: any) => p.containerPort));
    assert.ok(serverPorts.length > 0);
    assert.deepEqual(forwarded.get('gco-dev-git-server'), serverPorts);
  });

  it('restarts a live-updated process on every sync (the overlay command, tar as Tilt runs it)', async function () {
    this.timeout(120_000);
    const sidecar = objects.flatMap(containers).find((c) => c.name === 'git-sidecar');
    const root = await tempDir('gco-tilt-');
    // The image's /app, with the repository's node_modules for the image's.
    const app = join(root, 'app');
    await cp(join(repoRoot, 'package.json'), join(app, 'package.json'));
    for (const pkg of ['git-sidecar', 'common', 'sidecar-api']) {
      await mkdir(join(app, pkg), { recursive: true });
      await cp(join(repoRoot, pkg, 'package.json'), join(app, pkg, 'package.json'));
      await cp(join(repoRoot, pkg, 'src'), join(app, pkg, 'src'), { recursive: true });
    }
    await symlink(join(repoRoot, 'node_modules'), join(app, 'node_modules'));
    // The pod's paths under the temporary directory, and its listening ports (metrics) on free ones.
    const args = (sidecar.args as string[]).map((a) =>
      a
        .replace('/var/run/gco', join(root, 'run'))
        .replace('/var/lib/gco', join(root, 'data'))
        .replace(/^(--[\w-]+-address=).*:\d+$/, '$1127.0.0.1:0'),
    );
    const config = await readFile(join(repoRoot, 'git-sidecar/src/config.ts'), 'utf8');
    if (config.includes("'metrics-address'") && !args.some((a) => a.startsWith('--metrics-address=')))
      args.push('--metrics-address=127.0.0.1:0');
    await mkdir(join(root, 'run'));
    const log = join(root, 'sidecar.log');
    const [node, ...nodeArgs] = sidecar.command as string[];
    assert.equal(node, 'node');
    const proc = startProcess(join(repoRoot, 'node_modules/.bin/node'), [...nodeArgs, ...args], log, { cwd: app });
    const env = Object.fromEntries(
      (sidecar.env ?? []).filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]),
    );
    const starts = async () => ((await readFile(log, 'utf8')).match(/"message":"serving"/g) ?? []).length;
    const waitForStarts = (n: number) =>
      waitFor(async () => (await starts()) >= n, {
        timeoutMs: 20_000,
        describe: async () => `expected ${n} starts:\n${await readFile(log, 'utf8')}`,
      });
    try {
      await waitForStarts(1);
      const file = 'app/git-sidecar/src/main.ts';
      const staged = join(root, 'staged');
      await mkdir(join(staged, dirname(file)), { recursive: true });
      for (const n of [2, 3]) {
        // What Tilt does: a tar of the changed files at their container paths, extracted under / by
        // `tar -C / -x -f -` in the container, with the container's environment.
        await writeFile(join(staged, file), `${await readFile(join(root, file), 'utf8')}// ${n}\n`);
        const tar = await run('tar', ['-C', staged, '-cf', join(root, 'sync.tar'), file]);
        assert.equal(tar.code, 0, tar.stderr);
        const x = await run('sh', ['-c', `tar -C "${root}" -x -f - < "${join(root, 'sync.tar')}"`], {
          env: { ...process.env, ...env },
        });
        assert.equal(x.code, 0, x.stderr);
        await waitForStarts(n);
      }
    } finally {
      await proc.stop();
    }
  });

  it('fails on what Tilt would reject: unknown builtins and arguments, restart_container() with Kubernetes', async () => {
    const dir = await tempDir('gco-tiltfile-');
    for (const [body, error] of [
      ["helm('chart')", /undefined: helm/],
      ["docker_build('x', '.', onyl=['src'])", /unexpected keyword argument "onyl"/],
      ["docker_build('x', '.', live_update=[sync('src', '/app/src'), restart_container()])", /Docker Compose only/],
      ["docker_build('x', '.', live_update=[sync('../elsewhere', '/app')])", /not inside the build context/],
      ['k8s_resource(port_forwards=[8080])', /needs a workload/],
    ] as const) {
      const tiltfile = join(dir, 'Tiltfile');
      await writeFile(tiltfile, `${body}\n`);
      const result = await run(await checker(), ['-kubectl', await kubectl(), tiltfile], { cwd: dir });
      assert.notEqual(result.code, 0, body);
      assert.match(result.stderr, error, body);
    }
  });
});
