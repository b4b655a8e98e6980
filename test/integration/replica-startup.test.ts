// Replicas starting together on a fresh database: one migrates, the others wait, all start.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestApp } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';

test('three replicas starting at once on an empty database migrate it exactly once and all come up', { skip: !process.env.TEST_DATABASE_URL && 'needs PostgreSQL' }, async () => {
  const db = await createTestDatabase();
  try {
    const apps = await Promise.all([0, 1, 2].map(() => startTestApp({ db })));
    try {
      const rows = await apps[0].app.orm.em.fork().execute<{ name: string }[]>('select name from mikro_orm_migrations order by id');
      assert.equal(new Set(rows.map((r) => r.name)).size, rows.length, 'no migration recorded twice');
      assert.ok(rows.length >= 2);
      for (const a of apps) {
        const live = await fetch(`${a.url}/live`);
        assert.equal(live.status, 200);
        assert.deepEqual(await live.json(), { live: true });
      }
    } finally {
      await Promise.all(apps.map((a) => a.close()));
    }
  } finally {
    await db.drop();
  }
});
