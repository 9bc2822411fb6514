// The cost of one more event: Pipet folds it into the state it keeps (constant work), where an
// ETL-style answer re-scans the log. Both measured on a stream of `size` events.
export async function benchFoldVsScan(size: number): Promise<{ foldMs: number; scanMs: number }> {
  const { db } = await import('../../src/lib/server/db/client.ts');
  const { newSigningSecret } = await import('../../src/lib/server/teams/create-team.ts');
  const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
  const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
  const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');

  const team = await db().team.create({ data: { slug: `scan-${size}`, name: 'scan', signingSecret: newSigningSecret() } });
  const stream = await db().stream.create({ data: { teamId: team.id, slug: 'log', name: 'log' } });
  // Bulk-load the history in SQL (the append path is measured elsewhere).
  await db().$executeRaw`
    INSERT INTO "Event" ("streamId", "index", body, "receivedAt")
    SELECT ${stream.id}::uuid, g, jsonb_build_object('type', CASE WHEN g % 10 = 0 THEN 'foo' ELSE 'bar' END, 'n', g), now()
    FROM generate_series(0, ${size - 1}) AS g`;
  await db().stream.update({ where: { id: stream.id }, data: { length: size } });
  await db().$executeRaw`ANALYZE "Event"`;
  await upsertReducer({ streamId: stream.id, name: 'foos', code: "(n, e) => e.type === 'foo' ? n + 1 : n", initialState: 0 });
  await foldStream({ streamId: stream.id, timeBudgetMs: 600_000 }); // catch up on the history once

  const runs = 20;
  let foldMs = 0;
  let scanMs = 0;
  for (let i = 0; i < runs; i++) {
    await appendEvents({ streamId: stream.id, bodies: [{ type: 'foo' }] });
    let t = performance.now();
    await foldStream({ streamId: stream.id });
    foldMs += performance.now() - t;
    t = performance.now();
    await db().$queryRaw`SELECT count(*) FROM "Event" WHERE "streamId" = ${stream.id}::uuid AND body->>'type' = 'foo'`;
    scanMs += performance.now() - t;
  }
  await db().stream.delete({ where: { id: stream.id } });
  return { foldMs: foldMs / runs, scanMs: scanMs / runs };
}
