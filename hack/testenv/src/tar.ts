/**
 * Reads tar archives in memory: `docker save` archives and the layer tars inside them, whose every file
 * the image tests look into. Understands what Docker and GNU tar write: ustar headers with their name
 * prefix, GNU long names and link names, and PAX extended headers.
 */

export interface TarEntry {
  /** The path as stored, without a leading `./`. */
  name: string;
  /** '0' regular file, '1' hard link, '2' symlink, '5' directory, ... */
  type: string;
  mode: number;
  size: number;
  linkname: string;
  /** The file's bytes (a view into the archive's buffer). */
  data: Buffer;
}

const block = 512;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function octal(header: Buffer, offset: number, length: number): number {
  // Sizes over 8 GiB use GNU's base-256 form: the high bit of the first byte set.
  if ((header[offset] as number) & 0x80) {
    let value = 0;
    for (let i = offset + 1; i < offset + length; i++) value = value * 256 + (header[i] as number);
    return value;
  }
  const text = field(header, offset, length).trim();
  return text ? Number.parseInt(text, 8) : 0;
}

/** PAX records: "<length> <key>=<value>\n" each. */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(data.subarray(at, space).toString());
    if (!(length > 0)) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

export function* tarEntries(archive: Buffer): Generator<TarEntry> {
  let at = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  while (at + block <= archive.length) {
    const header = archive.subarray(at, at + block);
    if (header.every((b) => b === 0)) break;
    const type = field(header, 156, 1) || '0';
    let size = octal(header, 124, 12);
    if (pax.has('size')) size = Number(pax.get('size'));
    const data = archive.subarray(at + block, at + block + size);
    at += block + Math.ceil(size / block) * block;
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === 'K') {
      longLink = field(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'g') continue;
    const prefix = field(header, 345, 155);
    const stored = field(header, 0, 100);
    const name = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${stored}` : stored);
    const linkname = pax.get('linkpath') ?? longLink ?? field(header, 157, 100);
    yield { name: name.replace(/^\.\//, ''), type, mode: octal(header, 100, 8), size, linkname, data };
    longName = undefined;
    longLink = undefined;
    pax = new Map();
  }
}

/** The regular files of an archive by path. */
export function tarFiles(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of tarEntries(archive)) {
    if (entry.type === '0') files.set(entry.name, entry.data);
  }
  return files;
}
