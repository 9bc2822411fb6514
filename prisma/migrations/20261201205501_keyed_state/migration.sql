-- AlterTable
ALTER TABLE "Effect" ADD COLUMN     "stateKey" TEXT;

-- AlterTable
ALTER TABLE "Reducer" ADD COLUMN     "keyBy" TEXT;

-- AlterTable
ALTER TABLE "ReducerState" ADD COLUMN     "keyCount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "keysEpoch" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "lineage" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "replayKeyCount" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "ReducerVersion" ADD COLUMN     "keyBy" TEXT;

-- AlterTable
ALTER TABLE "ReplayPreview" ADD COLUMN     "keyBy" TEXT;

-- AlterTable
ALTER TABLE "Team" ADD COLUMN     "maxKeysPerReducer" INTEGER;

-- CreateTable
CREATE TABLE "KeyedState" (
    "streamId" UUID NOT NULL,
    "reducerId" UUID NOT NULL,
    "lineage" INTEGER NOT NULL,
    "key" TEXT COLLATE "C" NOT NULL,
    "state" JSONB,
    "index" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "KeyedState_pkey" PRIMARY KEY ("streamId","reducerId","lineage","key")
);

-- CreateTable
CREATE TABLE "KeyedChange" (
    "streamId" UUID NOT NULL,
    "reducerId" UUID NOT NULL,
    "lineage" INTEGER NOT NULL,
    "key" TEXT COLLATE "C" NOT NULL,
    "index" INTEGER NOT NULL,
    "state" JSONB,

    CONSTRAINT "KeyedChange_pkey" PRIMARY KEY ("streamId","reducerId","lineage","key","index")
);

-- CreateIndex
CREATE INDEX "Effect_streamId_reducerId_stateKey_idx" ON "Effect"("streamId", "reducerId", "stateKey");

-- AddForeignKey
ALTER TABLE "KeyedState" ADD CONSTRAINT "KeyedState_streamId_reducerId_fkey" FOREIGN KEY ("streamId", "reducerId") REFERENCES "Reducer"("streamId", "id") ON DELETE CASCADE ON UPDATE RESTRICT;

-- AddForeignKey
ALTER TABLE "KeyedChange" ADD CONSTRAINT "KeyedChange_streamId_reducerId_fkey" FOREIGN KEY ("streamId", "reducerId") REFERENCES "Reducer"("streamId", "id") ON DELETE CASCADE ON UPDATE RESTRICT;


-- Keys compare as bytes (UTF-8, so by code point) whatever the database's collation: a prefix is one
-- range of the primary key, and pages of keys come in the same order everywhere.

-- A key's row is updated in place by most folds: room on its page keeps those updates HOT (no new
-- index entry, no dead row for the index to carry).
ALTER TABLE "KeyedState" SET (fillfactor = 70);

-- pipet_commit_fold learns the state key of each effect (keyed reducers); the old signature goes.
DROP FUNCTION pipet_commit_fold(uuid, uuid, boolean, jsonb, int, int, int, text, text, int, uuid, text[], int[], int[], text[], text[], text[], timestamptz[], text[], text[], int);

CREATE OR REPLACE FUNCTION pipet_commit_fold(
  stream_id uuid, reducer_id uuid, replay boolean, new_state jsonb, new_cursor int, fold_version int, old_cursor int,
  error_message text, error_stack text, error_index int, team_id uuid,
  effect_ids text[], effect_indexes int[], effect_ordinals int[], effect_kinds text[], effect_payloads text[],
  effect_statuses text[], effect_due timestamptz[], effect_keys text[], replaced_keys text[], snapshot_at int,
  effect_state_keys text[] DEFAULT NULL
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  updated int;
BEGIN
  IF replay THEN
    UPDATE "ReducerState" SET "replayState" = new_state, "replayCursor" = new_cursor,
      status = CASE WHEN error_message IS NULL THEN status ELSE 'errored'::"ReducerStatus" END,
      "errorMessage" = COALESCE(error_message, "errorMessage"),
      "errorStack" = CASE WHEN error_message IS NULL THEN "errorStack" ELSE error_stack END,
      "errorIndex" = CASE WHEN error_message IS NULL THEN "errorIndex" ELSE error_index END,
      "erroredAt" = CASE WHEN error_message IS NULL THEN "erroredAt" ELSE now() END,
      "updatedAt" = now()
    WHERE "streamId" = stream_id AND "reducerId" = reducer_id AND "replayVersion" = fold_version AND "replayCursor" = old_cursor;
  ELSE
    UPDATE "ReducerState" SET state = new_state, cursor = new_cursor,
      status = CASE WHEN error_message IS NULL THEN status ELSE 'errored'::"ReducerStatus" END,
      "errorMessage" = COALESCE(error_message, "errorMessage"),
      "errorStack" = CASE WHEN error_message IS NULL THEN "errorStack" ELSE error_stack END,
      "errorIndex" = CASE WHEN error_message IS NULL THEN "errorIndex" ELSE error_index END,
      "erroredAt" = CASE WHEN error_message IS NULL THEN "erroredAt" ELSE now() END,
      "updatedAt" = now()
    WHERE "streamId" = stream_id AND "reducerId" = reducer_id AND version = fold_version AND cursor = old_cursor AND "replayVersion" IS NULL;
  END IF;
  GET DIAGNOSTICS updated = ROW_COUNT;
  IF updated = 0 THEN
    RETURN false;
  END IF;
  IF cardinality(replaced_keys) > 0 THEN
    UPDATE "Effect" SET status = 'cancelled'
    WHERE "streamId" = stream_id AND "reducerId" = reducer_id AND kind = 'timer' AND status = 'pending' AND key = ANY(replaced_keys);
  END IF;
  IF cardinality(effect_ids) > 0 THEN
    INSERT INTO "Effect" (id, "teamId", "streamId", "reducerId", version, "eventIndex", ordinal, kind, payload, status, "nextAttemptAt", key, "stateKey")
    SELECT e.id, team_id, stream_id, reducer_id, fold_version, e.idx, e.ord, e.kind::"EffectKind", e.payload::jsonb, e.status::"EffectStatus", e.due, e.key, e.state_key
    FROM unnest(effect_ids, effect_indexes, effect_ordinals, effect_kinds, effect_payloads, effect_statuses, effect_due, effect_keys, effect_state_keys)
      AS e(id, idx, ord, kind, payload, status, due, key, state_key)
    ON CONFLICT ("streamId", id) DO NOTHING;
  END IF;
  IF snapshot_at IS NOT NULL THEN
    INSERT INTO "ReducerSnapshot" ("streamId", "reducerId", version, folded, state)
    VALUES (stream_id, reducer_id, fold_version, snapshot_at, new_state)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN true;
END
$$;

-- A keyed reducer's batch: the cursor, error and effects as pipet_commit_fold commits them, and with
-- them the keys that changed (their last state) and every change (the per-key history), in lineage
-- `lineage_`. Nothing happens unless the cursor guard matched and no key was deleted since the fold
-- read its keys (`keys_epoch`). New keys are counted from the upsert itself.
CREATE OR REPLACE FUNCTION pipet_commit_keyed_fold(
  stream_id uuid, reducer_id uuid, replay boolean, new_cursor int, fold_version int, old_cursor int,
  error_message text, error_stack text, error_index int, team_id uuid,
  effect_ids text[], effect_indexes int[], effect_ordinals int[], effect_kinds text[], effect_payloads text[],
  effect_statuses text[], effect_due timestamptz[], effect_keys text[], replaced_keys text[], effect_state_keys text[],
  lineage_ int, keys_epoch int, state_keys text[], state_values text[], state_indexes int[],
  change_keys text[], change_indexes int[], change_values text[]
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  added int := 0;
BEGIN
  PERFORM 1 FROM "ReducerState" WHERE "streamId" = stream_id AND "reducerId" = reducer_id AND "keysEpoch" = keys_epoch FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF NOT pipet_commit_fold(stream_id, reducer_id, replay, NULL, new_cursor, fold_version, old_cursor, error_message, error_stack, error_index, team_id,
      effect_ids, effect_indexes, effect_ordinals, effect_kinds, effect_payloads, effect_statuses, effect_due, effect_keys, replaced_keys, NULL, effect_state_keys) THEN
    RETURN false;
  END IF;
  IF cardinality(state_keys) > 0 THEN
    WITH up AS (
      INSERT INTO "KeyedState" ("streamId", "reducerId", lineage, key, state, "index")
      SELECT stream_id, reducer_id, lineage_, u.k, u.v::jsonb, u.i FROM unnest(state_keys, state_values, state_indexes) AS u(k, v, i)
      ON CONFLICT ("streamId", "reducerId", lineage, key) DO UPDATE SET state = EXCLUDED.state, "index" = EXCLUDED."index", "updatedAt" = now()
      RETURNING (xmax = 0) AS inserted)
    SELECT count(*) FILTER (WHERE inserted) INTO added FROM up;
  END IF;
  IF added > 0 THEN
    UPDATE "ReducerState" SET "keyCount" = "keyCount" + CASE WHEN replay THEN 0 ELSE added END, "replayKeyCount" = "replayKeyCount" + CASE WHEN replay THEN added ELSE 0 END
    WHERE "streamId" = stream_id AND "reducerId" = reducer_id;
  END IF;
  IF cardinality(change_keys) > 0 THEN
    INSERT INTO "KeyedChange" ("streamId", "reducerId", lineage, key, "index", state)
    SELECT stream_id, reducer_id, lineage_, c.k, c.i, c.v::jsonb FROM unnest(change_keys, change_indexes, change_values) AS c(k, i, v)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN true;
END
$$;
