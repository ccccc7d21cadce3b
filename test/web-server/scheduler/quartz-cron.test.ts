/** The Quartz cron form as Caisson implements it: every feature, month ends, leap years, time zones and DST. */
import assert from 'node:assert/strict';
import { CaissonError } from '../../../common/errors.js';
import { parseQuartzCron } from '../../../web-server/src/scheduler/quartz-cron.js';

/** The next `n` fire times after `from`, as ISO strings (UTC). */
function fires(expression: string, from: string, n: number, zone = 'UTC'): string[] {
  return parseQuartzCron(expression, zone)
    .nextFires(Date.parse(from), n)
    .map((t) => new Date(t).toISOString().replace('.000Z', 'Z'));
}

/** Days (YYYY-MM-DD) of the next `n` fire times of a noon schedule. */
function days(expression: string, from: string, n: number): string[] {
  return fires(expression, from, n).map((s) => s.slice(0, 10));
}

function refuses(expression: string, message: string, zone = 'UTC'): void {
  assert.throws(
    () => parseQuartzCron(expression, zone),
    (e: unknown) => e instanceof CaissonError && e.code === 'INVALID_PARAMETER' && e.message === message,
  );
}

describe('Quartz cron expressions', () => {
  describe('fields, ranges, lists and steps', () => {
    it('reads ? in either day field as "any day"', () => {
      const daily = ['2024-01-01T03:00:00Z', '2024-01-02T03:00:00Z'];
      assert.deepEqual(fires('0 0 3 ? * *', '2024-01-01T00:00:00Z', 2), daily);
      assert.deepEqual(fires('0 0 3 * * ?', '2024-01-01T00:00:00Z', 2), daily);
    });

    it('fires to the second with */n in the seconds field', () => {
      assert.deepEqual(fires('*/20 * * ? * *', '2024-01-01T00:00:00Z', 3), [
        '2024-01-01T00:00:20Z',
        '2024-01-01T00:00:40Z',
        '2024-01-01T00:01:00Z',
      ]);
    });

    it('reads a/n as "from a every n" and /n as */n', () => {
      assert.deepEqual(fires('5/15 * * ? * *', '2024-01-01T00:00:00Z', 5), [
        '2024-01-01T00:00:05Z',
        '2024-01-01T00:00:20Z',
        '2024-01-01T00:00:35Z',
        '2024-01-01T00:00:50Z',
        '2024-01-01T00:01:05Z',
      ]);
      assert.deepEqual(fires('0 /15 * ? * *', '2024-01-01T00:00:00Z', 4), [
        '2024-01-01T00:15:00Z',
        '2024-01-01T00:30:00Z',
        '2024-01-01T00:45:00Z',
        '2024-01-01T01:00:00Z',
      ]);
    });

    it('combines ranges and lists', () => {
      assert.deepEqual(fires('0 0 9-11,14 ? * *', '2024-01-01T00:00:00Z', 5), [
        '2024-01-01T09:00:00Z',
        '2024-01-01T10:00:00Z',
        '2024-01-01T11:00:00Z',
        '2024-01-01T14:00:00Z',
        '2024-01-02T09:00:00Z',
      ]);
    });

    it('wraps a range whose end is below its start, as Quartz does', () => {
      assert.deepEqual(fires('0 0 22-1 ? * *', '2024-01-01T12:00:00Z', 5), [
        '2024-01-01T22:00:00Z',
        '2024-01-01T23:00:00Z',
        '2024-01-02T00:00:00Z',
        '2024-01-02T01:00:00Z',
        '2024-01-02T22:00:00Z',
      ]);
      assert.deepEqual(days('0 0 12 ? * FRI-MON', '2024-01-01T00:00:00Z', 5), [
        '2024-01-01',
        '2024-01-05',
        '2024-01-06',
        '2024-01-07',
        '2024-01-08',
      ]);
    });

    it('steps through months and reads month names', () => {
      assert.deepEqual(days('0 0 0 1 */4 ?', '2024-01-01T00:00:00Z', 3), ['2024-05-01', '2024-09-01', '2025-01-01']);
      assert.deepEqual(days('0 0 0 1 jan,JUL ?', '2024-01-01T00:00:00Z', 2), ['2024-07-01', '2025-01-01']);
    });

    it('keeps to the optional year field and ends when the years are over', () => {
      assert.deepEqual(days('0 0 12 1 1 ? 2025-2026', '2024-01-01T00:00:00Z', 5), ['2025-01-01', '2026-01-01']);
      assert.equal(parseQuartzCron('0 0 12 1 1 ? 2020', 'UTC').nextFireAfter(Date.parse('2024-01-01T00:00:00Z')), null);
    });

    it('normalises spacing and letter case', () => {
      const c = parseQuartzCron('  0  0 12   ? * mon ', 'UTC');
      assert.equal(c.expression, '0 0 12 ? * mon');
      assert.deepEqual(days('0 0 12 ? * mon', '2024-01-01T13:00:00Z', 1), ['2024-01-08']);
    });
  });

  describe('day of week', () => {
    it('numbers days 1=SUN … 7=SAT like Quartz (not cron’s 0=SUN)', () => {
      assert.deepEqual(days('0 0 12 ? * 1', '2024-01-01T00:00:00Z', 2), ['2024-01-07', '2024-01-14']);
      assert.deepEqual(days('0 0 12 ? * 2', '2024-01-01T00:00:00Z', 2), ['2024-01-01', '2024-01-08']);
      assert.deepEqual(days('0 0 12 ? * 7', '2024-01-01T00:00:00Z', 2), ['2024-01-06', '2024-01-13']);
      assert.deepEqual(days('0 0 12 ? * SUN', '2024-01-01T00:00:00Z', 1), ['2024-01-07']);
    });

    it('steps through days of the week from Sunday', () => {
      assert.deepEqual(days('0 0 12 ? * 1-7/2', '2024-01-01T00:00:00Z', 4), ['2024-01-02', '2024-01-04', '2024-01-06', '2024-01-07']);
    });

    it('reads MON-FRI as the working week', () => {
      assert.deepEqual(days('0 0 12 ? * MON-FRI', '2024-01-06T00:00:00Z', 6), [
        '2024-01-08',
        '2024-01-09',
        '2024-01-10',
        '2024-01-11',
        '2024-01-12',
        '2024-01-15',
      ]);
    });

    it('reads L alone as Saturday and nL as the last such day of the month', () => {
      assert.deepEqual(days('0 0 12 ? * L', '2024-01-01T00:00:00Z', 2), ['2024-01-06', '2024-01-13']);
      assert.deepEqual(days('0 0 12 ? * 6L', '2024-01-01T00:00:00Z', 3), ['2024-01-26', '2024-02-23', '2024-03-29']);
      assert.deepEqual(days('0 0 12 ? * FRIL', '2024-01-01T00:00:00Z', 1), ['2024-01-26']);
    });

    it('reads n#k as the k-th such day of the month, skipping months without one', () => {
      assert.deepEqual(days('0 0 12 ? * 6#3', '2024-01-01T00:00:00Z', 3), ['2024-01-19', '2024-02-16', '2024-03-15']);
      assert.deepEqual(days('0 0 12 ? * MON#1', '2024-01-01T00:00:00Z', 3), ['2024-01-01', '2024-02-05', '2024-03-04']);
      assert.deepEqual(days('0 0 12 ? * 7#5', '2024-01-01T00:00:00Z', 3), ['2024-03-30', '2024-06-29', '2024-08-31']);
    });
  });

  describe('day of month', () => {
    it('reads L as the last day, across month ends and leap years', () => {
      assert.deepEqual(days('0 0 12 L * ?', '2024-01-01T00:00:00Z', 4), ['2024-01-31', '2024-02-29', '2024-03-31', '2024-04-30']);
      assert.deepEqual(days('0 0 12 L * ?', '2023-02-01T00:00:00Z', 2), ['2023-02-28', '2023-03-31']);
    });

    it('reads L-n as n days before the last day', () => {
      assert.deepEqual(days('0 0 12 L-2 * ?', '2024-01-01T00:00:00Z', 3), ['2024-01-29', '2024-02-27', '2024-03-29']);
      assert.deepEqual(days('0 0 12 L-2 * ?', '2023-02-01T00:00:00Z', 1), ['2023-02-26']);
    });

    it('reads LW as the last weekday of the month', () => {
      assert.deepEqual(days('0 0 12 LW * ?', '2024-03-01T00:00:00Z', 4), ['2024-03-29', '2024-04-30', '2024-05-31', '2024-06-28']);
    });

    it('reads nW as the weekday nearest the n-th, never leaving the month', () => {
      assert.deepEqual(days('0 0 12 15W * ?', '2024-06-01T00:00:00Z', 4), ['2024-06-14', '2024-07-15', '2024-08-15', '2024-09-16']);
      assert.deepEqual(days('0 0 12 1W * ?', '2024-06-01T00:00:00Z', 2), ['2024-06-03', '2024-07-01']);
      assert.deepEqual(days('0 0 12 31W * ?', '2024-03-01T00:00:00Z', 2), ['2024-03-29', '2024-05-31']);
    });

    it('skips months too short for the day, and fires on 29 February only in leap years', () => {
      assert.deepEqual(days('0 0 0 31 * ?', '2024-01-01T00:00:00Z', 4), ['2024-01-31', '2024-03-31', '2024-05-31', '2024-07-31']);
      assert.deepEqual(days('0 0 0 29 2 ?', '2024-03-01T00:00:00Z', 2), ['2028-02-29', '2032-02-29']);
    });
  });

  describe('time zones and daylight saving', () => {
    it('reads the expression in the schedule’s zone', () => {
      assert.deepEqual(fires('0 0 3 ? * *', '2024-01-01T00:00:00Z', 1, 'Europe/Paris'), ['2024-01-01T02:00:00Z']);
      assert.deepEqual(fires('0 0 3 ? * *', '2024-07-01T00:00:00Z', 1, 'Europe/Paris'), ['2024-07-01T01:00:00Z']);
    });

    it('fires a time in the skipped spring hour at the end of the gap instead of losing it', () => {
      assert.deepEqual(fires('0 30 2 ? * *', '2024-03-09T00:00:00Z', 3, 'America/New_York'), [
        '2024-03-09T07:30:00Z',
        '2024-03-10T07:00:00Z',
        '2024-03-11T06:30:00Z',
      ]);
      assert.deepEqual(fires('0 30 2 ? * *', '2024-03-30T00:00:00Z', 3, 'Europe/Berlin'), [
        '2024-03-30T01:30:00Z',
        '2024-03-31T01:00:00Z',
        '2024-04-01T00:30:00Z',
      ]);
    });

    it('fires a time of the repeated autumn hour once, at its first occurrence', () => {
      assert.deepEqual(fires('0 30 1 ? * *', '2024-11-02T00:00:00Z', 3, 'America/New_York'), [
        '2024-11-02T05:30:00Z',
        '2024-11-03T05:30:00Z',
        '2024-11-04T06:30:00Z',
      ]);
    });

    it('neither repeats nor doubles interval fires across the autumn change', () => {
      assert.deepEqual(fires('0 */30 * ? * *', '2024-11-03T04:00:00Z', 5, 'America/New_York'), [
        '2024-11-03T04:30:00Z',
        '2024-11-03T05:00:00Z',
        '2024-11-03T05:30:00Z',
        '2024-11-03T07:00:00Z',
        '2024-11-03T07:30:00Z',
      ]);
    });

    it('collapses interval fires of the skipped spring hour into one at the end of the gap', () => {
      assert.deepEqual(fires('0 */30 * ? * *', '2024-03-10T06:00:00Z', 3, 'America/New_York'), [
        '2024-03-10T06:30:00Z',
        '2024-03-10T07:00:00Z',
        '2024-03-10T07:30:00Z',
      ]);
    });

    it('fires an every-second schedule exactly once per instant through the autumn change', () => {
      const from = Date.parse('2024-11-03T05:59:58Z');
      const list = parseQuartzCron('* * * ? * *', 'America/New_York').nextFires(from, 4);
      // 01:59:59 EDT, then the repeated hour (01:00:00 EST …) is already past: 02:00:00 EST.
      assert.deepEqual(
        list.map((t) => new Date(t).toISOString()),
        ['2024-11-03T05:59:59.000Z', '2024-11-03T07:00:00.000Z', '2024-11-03T07:00:01.000Z', '2024-11-03T07:00:02.000Z'],
      );
    });
  });

  describe('refusals', () => {
    it('refuses a wrong number of fields', () => {
      refuses(
        '0 0 12 * *',
        'Invalid cron expression "0 0 12 * *": expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), got 5.',
      );
    });

    it('refuses both or neither day field being ?', () => {
      const why = "put '?' in exactly one of day-of-month and day-of-week (Quartz cannot combine both day fields).";
      refuses('0 0 12 * * *', `Invalid cron expression "0 0 12 * * *": ${why}`);
      refuses('0 0 12 ? * ?', `Invalid cron expression "0 0 12 ? * ?": ${why}`);
    });

    it('refuses day-of-week 0 and 8, which cron would read as Sunday', () => {
      refuses('0 0 12 ? * 0', 'Invalid cron expression "0 0 12 ? * 0": day-of-week values must be between 1 and 7, got 0.');
      refuses('0 0 12 ? * 8', 'Invalid cron expression "0 0 12 ? * 8": day-of-week values must be between 1 and 7, got 8.');
    });

    it('refuses values out of range', () => {
      refuses('60 0 12 ? * *', 'Invalid cron expression "60 0 12 ? * *": seconds values must be between 0 and 59, got 60.');
      refuses('0 0 24 ? * *', 'Invalid cron expression "0 0 24 ? * *": hours values must be between 0 and 23, got 24.');
      refuses('0 0 12 0 * ?', 'Invalid cron expression "0 0 12 0 * ?": day-of-month values must be between 1 and 31, got 0.');
      refuses('0 0 12 ? 13 *', 'Invalid cron expression "0 0 12 ? 13 *": month values must be between 1 and 12, got 13.');
      refuses('0 0 12 ? * * 1969', 'Invalid cron expression "0 0 12 ? * * 1969": year values must be between 1970 and 2099, got 1969.');
    });

    it('refuses misplaced special characters and unknown names', () => {
      refuses('0 0 ? 1 * ?', `Invalid cron expression "0 0 ? 1 * ?": '?' is only allowed in day-of-month or day-of-week, not in hours.`);
      refuses(
        '0 0 L ? * *',
        `Invalid cron expression "0 0 L ? * *": 'L', 'W' and '#' are only allowed in the day fields, not in hours ("L").`,
      );
      refuses(
        '0 0 12 1,L * ?',
        `Invalid cron expression "0 0 12 1,L * ?": day-of-month accepts 'L', 'L-n', 'LW' or 'nW' only as the whole field, got "1,L".`,
      );
      refuses(
        '0 0 12 ? * 2,6L',
        `Invalid cron expression "0 0 12 ? * 2,6L": day-of-week accepts 'L', 'nL' or 'n#k' only as the whole field, got "2,6L".`,
      );
      refuses('0 0 12 ? * FOO', 'Invalid cron expression "0 0 12 ? * FOO": "FOO" is not a valid day-of-week value.');
      refuses('0 0 12 ? * 6#6', 'Invalid cron expression "0 0 12 ? * 6#6": the week in "6#6" must be between 1 and 5.');
      refuses('0 0 12 L-31 * ?', 'Invalid cron expression "0 0 12 L-31 * ?": the offset in "L-31" must be between 0 and 30.');
    });

    it('refuses zero steps and downward year ranges', () => {
      refuses('*/0 0 12 ? * *', 'Invalid cron expression "*/0 0 12 ? * *": the step in "*/0" (seconds) must be a positive whole number.');
      refuses('0 0 12 ? * * 2030-2025', 'Invalid cron expression "0 0 12 ? * * 2030-2025": year range "2030-2025" must go upward.');
    });

    it('refuses an unknown time zone', () => {
      refuses('0 0 12 ? * *', 'Unknown time zone "Mars/Olympus": use an IANA name like Europe/Paris or UTC.', 'Mars/Olympus');
    });
  });
});
