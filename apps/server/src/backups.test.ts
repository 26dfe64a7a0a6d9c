// backups.* over real HTTP: schedules validated (cron, zone, target), next runs, history, admin only.
import { execFileSync } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, makeTempDir, setUpAdmin, startTestNook, type TestNook } from '../../../test/harness';

interface Schedule {
  id: string;
  name: string;
  cron: string;
  timeZone: string;
  targetDir: string;
  include: { uploads: boolean; watchedLibraries: boolean; metadata: boolean; derived: boolean };
  enabled: boolean;
  nextRuns: string[];
  lastRun: unknown;
}

describe('backups router', () => {
  let nook: TestNook;
  let admin: TestClient;
  let member: TestClient;
  let target: string;

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    admin = await setUpAdmin(nook.url);
    await admin.mutate('users.create', { username: 'member', password: 'member password' });
    member = new TestClient(nook.url);
    await member.mutate('auth.login', { username: 'member', password: 'member password' });
    target = await makeTempDir('nook-backup-target-');
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('creates a schedule with its next five runs in its time zone, and warns about a shared disk', async () => {
    const created = await admin.mutate<{ schedule: Schedule; warnings: string[] }>('backups.create', {
      name: 'Nightly',
      cron: '30 3 * * *',
      timeZone: 'Europe/Berlin',
      targetDir: target,
      include: { derived: true },
    });
    expect(created.schedule).toMatchObject({
      name: 'Nightly',
      timeZone: 'Europe/Berlin',
      targetDir: target,
      enabled: true,
      include: { uploads: true, watchedLibraries: false, metadata: true, derived: true },
      lastRun: null,
    });
    expect(created.schedule.nextRuns).toHaveLength(5);
    for (const run of created.schedule.nextRuns) {
      const hour = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        hour: '2-digit',
        minute: '2-digit',
      }).format(new Date(run));
      expect(hour).toBe('03:30');
    }
    // The temp dirs of this test share the data dir's disk.
    expect(created.warnings.join(' ')).toMatch(/same disk/);

    const updated = await admin.mutate<{ schedule: Schedule }>('backups.update', {
      id: created.schedule.id,
      cron: '0 */6 * * *',
      timeZone: 'UTC',
      enabled: false,
    });
    expect(updated.schedule).toMatchObject({ cron: '0 */6 * * *', enabled: false });
    expect(
      new Date(updated.schedule.nextRuns[1]!).getTime() - new Date(updated.schedule.nextRuns[0]!).getTime(),
    ).toBe(6 * 3600_000);
    expect((await admin.query<Schedule[]>('backups.list')).map((s) => s.id)).toEqual([created.schedule.id]);

    await expect(
      admin.mutate('backups.create', { name: 'Twin', cron: '0 1 * * *', targetDir: target }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await admin.query('backups.runs', { scheduleId: created.schedule.id })).toEqual([]);
    await admin.mutate('backups.delete', { id: created.schedule.id });
    expect(await admin.query('backups.list')).toEqual([]);
  });

  it('refuses bad cron expressions, zones and targets with a clear message', async () => {
    const base = { name: 'Bad', cron: '0 3 * * *', targetDir: target };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ cron: '61 3 * * *' }, /invalid cron expression/],
      [{ cron: '0 0 3 * * *' }, /five fields/],
      [{ timeZone: 'Mars/Olympus' }, /unknown time zone/],
      [{ targetDir: 'relative/dir' }, /absolute path/],
      [{ targetDir: path.join(target, 'missing') }, /is missing/],
      [{ targetDir: nook.dataDir.root }, /inside the data dir/],
    ];
    for (const [change, message] of cases) {
      await expect(admin.mutate('backups.create', { ...base, ...change })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(message),
      });
    }
    await expect(
      admin.query('backups.previewCron', { cron: 'every day', timeZone: 'UTC' }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    const preview = await admin.query<{ nextRuns: string[] }>('backups.previewCron', {
      cron: '0 12 * * 1',
      timeZone: 'America/New_York',
    });
    expect(preview.nextRuns).toHaveLength(5);
    expect(new Date(preview.nextRuns[0]!).getUTCDay()).toBe(1);
  });

  it('refuses a read-only target (a read-only bind mount, as root)', async () => {
    const readOnly = path.join(target, 'ro');
    await mkdir(readOnly);
    await chmod(readOnly, 0o555);
    // root ignores mode bits, so only a read-only mount shows it there; as another user the mode does.
    const root = process.getuid?.() === 0;
    if (root) execFileSync('mount', ['--bind', '-o', 'ro', readOnly, readOnly]);
    try {
      await expect(
        admin.mutate('backups.create', { name: 'RO', cron: '0 3 * * *', targetDir: readOnly }),
      ).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/read-only|permission denied/),
      });
    } finally {
      if (root) execFileSync('umount', [readOnly]);
    }
  });

  it('is for administrators only', async () => {
    await expect(member.query('backups.list')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(
      member.mutate('backups.create', { name: 'M', cron: '0 3 * * *', targetDir: target }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('reports the last backup in stats.summary (none yet)', async () => {
    const summary = await admin.query<{ lastBackup: { finishedAt: string | null; warnings: string[] } }>(
      'stats.summary',
    );
    expect(summary.lastBackup).toEqual({
      scheduleId: null,
      scheduleName: null,
      finishedAt: null,
      ageSeconds: null,
      warnings: [],
    });
  });
});
