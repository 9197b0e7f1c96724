/**
 * What a `docker save` archive holds: its tags, its image config and every file of every layer, for
 * the tests that look into the images (what they contain, and what they must never contain).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tarEntries, tarFiles } from './tar.ts';

export interface ImageArchive {
  repoTags: string[];
  /** The image ID: `sha256:` of the config. */
  id: string;
  config: {
    raw: Buffer;
    json: {
      config?: { Labels?: Record<string, string>; User?: string; WorkingDir?: string; Entrypoint?: string[] };
      history?: unknown[];
    };
  };
  /** Each layer's tar, bottom first. */
  layers: Array<{ path: string; tar: Buffer }>;
}

export async function readImageArchive(path: string): Promise<ImageArchive> {
  const files = tarFiles(await readFile(path));
  const manifestFile = files.get('manifest.json');
  if (!manifestFile) throw new Error(`${path}: no manifest.json (not a docker save archive)`);
  const [manifest] = JSON.parse(manifestFile.toString()) as Array<{
    Config: string;
    RepoTags: string[] | null;
    Layers: string[];
  }>;
  if (!manifest) throw new Error(`${path}: an empty manifest.json`);
  const raw = files.get(manifest.Config);
  if (!raw) throw new Error(`${path}: no ${manifest.Config}`);
  return {
    repoTags: manifest.RepoTags ?? [],
    id: `sha256:${createHash('sha256').update(raw).digest('hex')}`,
    config: { raw, json: JSON.parse(raw.toString()) },
    layers: manifest.Layers.map((layer) => {
      const tar = files.get(layer);
      if (!tar) throw new Error(`${path}: no ${layer}`);
      return { path: layer, tar };
    }),
  };
}

export interface Needle {
  label: string;
  bytes: Buffer;
}

/**
 * What gives a certificate away in a file: its DER bytes (a binary store, a hashed directory) and a
 * line of its PEM body past the first, which is common to many certificates.
 */
export function certificateNeedles(pem: string, label: string): Needle[] {
  const lines = pem
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const der = Buffer.from(lines.join(''), 'base64');
  const needles = [{ label: `${label} (DER)`, bytes: der }];
  const line = lines[1] ?? lines[0];
  if (line) needles.push({ label: `${label} (PEM)`, bytes: Buffer.from(line) });
  return needles;
}

export interface Found {
  label: string;
  /** `config`, or `<layer>:<path in the layer>`. */
  where: string;
}

/** Every place in the image (its config, each file of each layer) holding one of the needles. */
export function findInImage(image: ImageArchive, needles: Needle[]): Found[] {
  const found: Found[] = [];
  const look = (where: string, data: Buffer) => {
    for (const needle of needles) if (data.includes(needle.bytes)) found.push({ label: needle.label, where });
  };
  look('config', image.config.raw);
  for (const layer of image.layers) {
    for (const entry of tarEntries(layer.tar)) look(`${layer.path}:${entry.name}`, entry.data);
  }
  return found;
}
