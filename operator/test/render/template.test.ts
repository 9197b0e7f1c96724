import assert from 'node:assert/strict';
import { runOk } from '@gco/testenv';
import { expandTemplate, strftime, supportedConversions, TemplateError } from '../../src/render/template.ts';

/**
 * Instants where conversions disagree most easily: the epoch, ISO week 53 and week 1 across year ends,
 * leap days and day 366, midnight and noon (12-hour clock), single-digit days and hours (space
 * padding), century boundaries, past 2^31 seconds, milliseconds for %N.
 */
const instants = [
  '1970-01-01T00:00:00.000Z',
  '1999-12-31T23:59:59.000Z',
  '2000-03-01T01:02:03.000Z',
  '2021-01-03T09:05:07.000Z',
  '2024-02-29T23:59:59.999Z',
  '2024-12-30T00:00:00.000Z',
  '2024-12-31T12:00:00.000Z',
  '2025-06-01T00:30:00.000Z',
  '2026-11-24T16:14:58.123Z',
  '2027-01-01T13:00:00.000Z',
  '2038-01-19T03:14:08.500Z',
  '2100-03-01T22:00:00.000Z',
].map((s) => new Date(s));

/** GNU date itself, in the C locale and UTC: what the templates promise to print. */
async function gnuDate(instant: Date, format?: string): Promise<string> {
  const seconds = `@${Math.floor(instant.getTime() / 1000)}.${String(instant.getTime() % 1000).padStart(3, '0')}`;
  const out = await runOk('date', ['-u', '-d', seconds, ...(format === undefined ? [] : [`+${format}`])], {
    env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
  });
  return out.replace(/\n$/, '');
}

describe('templates: $(date …) as GNU date prints it', () => {
  before(async () => {
    const version = await runOk('date', ['--version']).catch(() => '');
    assert.match(version, /GNU coreutils/, 'these tests compare with GNU date: apt-get install coreutils');
  });

  it('every supported conversion prints what GNU date prints, at instants where they differ most easily', async () => {
    // One date call per instant: the conversions separated by a marker no conversion prints.
    const marker = '<|>';
    const format = supportedConversions.map((c) => `%${c}`).join(marker);
    for (const instant of instants) {
      const expected = (await gnuDate(instant, format)).split(marker);
      const actual = strftime(format, instant).split(marker);
      supportedConversions.forEach((c, i) => {
        assert.equal(actual[i], expected[i], `%${c} at ${instant.toISOString()}`);
      });
    }
  });

  it('the forms users write print what the same date command prints', async () => {
    const instant = new Date('2026-11-24T16:14:58.123Z');
    const forms: Array<[string, string | undefined]> = [
      ['$(date)', undefined],
      ['$(date -u)', undefined],
      ['$(date +%Y%m%d)', '%Y%m%d'],
      ['$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)', '%Y-%m-%dT%H:%M:%S.%NZ'],
      ["$(date '+%F %T')", '%F %T'],
      ['$(date --utc +%s)', '%s'],
    ];
    for (const [template, format] of forms) {
      assert.equal(expandTemplate(template, instant), await gnuDate(instant, format), template);
    }
  });

  it('refuses, saying where, what it cannot print as GNU date would', () => {
    const instant = new Date('2026-11-24T16:14:58Z');
    const refused: Array<[string, RegExp]> = [
      ['$(date +%Q)', /unknown conversion '%Q'/],
      ['$(date +100%)', /lone '%'/],
      ['$(date %Y)', /must start with '\+'/],
      ['$(date -d yesterday +%F)', /must start with '\+'/],
      ['x $(date +%Y', /'\$\(' at position 2 is not closed/],
      ['$(echo hi)', /not supported/],
    ];
    for (const [template, message] of refused) {
      assert.throws(
        () => expandTemplate(template, instant),
        (e: unknown) => e instanceof TemplateError && message.test(e.message),
        template,
      );
    }
  });
});
