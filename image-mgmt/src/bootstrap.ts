/**
 * Solo-mode registration (DESIGN §2): on first start the base image type (`caisson-base` 0.0.0
 * ACTIVE, "the flow container of this checkout") and the jobtypes shipped with the repository
 * are registered, so the examples run out of the box. A type that exists is left alone.
 */
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../common/db/dialect.js';
import { appendImageAudit } from './audit-store.js';
import { findImageTypeByName, insertImageType, insertImageVersion } from './catalog-store.js';
import { normalizeTypeName } from './model.js';

export interface BuiltInImage {
  imageType: string;
  path: string;
  version: string;
  description: string;
}

export const SYSTEM_ACTOR = 'caisson';

/** Registers each image whose type does not exist yet, with its version ACTIVE; resolves to the types registered. */
export async function registerBuiltInImages(db: Knex, images: readonly BuiltInImage[], now: number): Promise<string[]> {
  const registered: string[] = [];
  for (const image of images) {
    const name = normalizeTypeName(image.imageType);
    if (await findImageTypeByName(db, name)) continue;
    try {
      await db.transaction(async (trx) => {
        const typeId = await insertImageType(trx, { name, description: image.description, deployable: 'IMAGE', actor: SYSTEM_ACTOR, now });
        await insertImageVersion(trx, {
          typeId,
          path: image.path,
          version: image.version,
          state: 'ACTIVE',
          releaseTag: null,
          digest: null,
          description: image.description,
          actor: SYSTEM_ACTOR,
          now,
        });
        await appendImageAudit(trx, {
          actor: SYSTEM_ACTOR,
          action: 'register-built-in',
          entityType: 'image_type',
          entityId: name,
          after: image,
          at: now,
        });
      });
      registered.push(name);
    } catch (e) {
      // Another replica registered it first.
      if (!isUniqueViolation(e)) throw e;
    }
  }
  return registered;
}
