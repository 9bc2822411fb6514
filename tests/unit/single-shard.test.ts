// The statement check of tests/e2e/citus-hot-statements.test.ts on statements before and after the
// Citus keys: it must catch the old ones, or passing there proves nothing.
import { describe, expect, it } from 'vitest';
import { distributionViolations } from '../helpers/single-shard.ts';

describe('distributionViolations', () => {
  it.each([
    // Before: stream resolution by slugs, the fold's load joined on reducerId alone, effects by id.
    [`SELECT t.id, s.id FROM "Team" t LEFT JOIN "Stream" s ON s."teamId" = t.id AND s.slug = $2 WHERE t.slug = $1`, ['Stream s not filtered by id = <value>']],
    [
      `SELECT s.slug, rs."reducerId" FROM "Stream" s JOIN "Team" t ON t.id = s."teamId" LEFT JOIN "Reducer" r ON r."streamId" = s.id AND r.enabled LEFT JOIN "ReducerState" rs ON rs."reducerId" = r.id AND rs.status = 'active' WHERE s.id = $1::uuid`,
      ['ReducerState rs not filtered by streamId = <value>'],
    ],
    [`UPDATE "ReducerState" SET state = $2::jsonb WHERE "reducerId" = $1::uuid AND version = $4`, ['ReducerState not filtered by streamId = <value>']],
    [`SELECT "public"."Effect"."id" FROM "public"."Effect" WHERE ("public"."Effect"."id" = $1 AND 1=1) LIMIT $2 OFFSET $3`, ['Effect not filtered by streamId = <value>']],
    [`INSERT INTO "public"."EffectAttempt" ("id","effectId","durationMs") VALUES ($1,$2,$3)`, ['INSERT INTO EffectAttempt without streamId']],
    [`DELETE FROM "public"."Stream" WHERE ("public"."Stream"."teamId" = $1 AND "public"."Stream"."slug" = $2)`, ['Stream not filtered by id = <value>']],
  ])('flags %s', (sql, violations) => {
    expect(distributionViolations(sql)).toEqual(violations);
  });

  it.each([
    `SELECT t.id, s.id FROM "Team" t LEFT JOIN "Stream" s ON s.id = $2::uuid AND s."teamId" = t.id WHERE t.slug = $1`,
    `SELECT s.slug, rs."reducerId" FROM "Stream" s JOIN "Team" t ON t.id = s."teamId" LEFT JOIN "Reducer" r ON r."streamId" = s.id AND r.enabled LEFT JOIN "ReducerState" rs ON rs."streamId" = r."streamId" AND rs."reducerId" = r.id WHERE s.id = $1::uuid`,
    `UPDATE "ReducerState" SET state = $2::jsonb WHERE "streamId" = $10::uuid AND "reducerId" = $1::uuid AND version = $4`,
    `SELECT "public"."Effect"."id" FROM "public"."Effect" WHERE (("public"."Effect"."streamId" = $1 AND "public"."Effect"."id" = $2) AND 1=1) LIMIT $3 OFFSET $4`,
    `SELECT "t1"."id" FROM "public"."Reducer" AS "t1" WHERE "t1"."streamId" IN ($1)`,
    `INSERT INTO "public"."EffectAttempt" ("id","streamId","effectId","durationMs") VALUES ($1,$2,$3,$4)`,
    `DELETE FROM "public"."Stream" WHERE ("public"."Stream"."id" = $1 AND "public"."Stream"."teamId" = $2)`,
    `SELECT "public"."Team"."id" FROM "public"."Team" WHERE "public"."Team"."slug" = $1`,
  ])('passes %s', (sql) => {
    expect(distributionViolations(sql)).toEqual([]);
  });
});
