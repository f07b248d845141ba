// What `start` does before serving: a demo catalog for an empty database, and its search
// index. Several `start` processes on one fresh database take turns (a session lock): two at
// once both found the catalog empty and seeded it twice (1,200 products, half without
// variants, and one crashed on a duplicate SKU).
import type { Modules } from './app.ts'
import type { Platform } from './platform/index.ts'
import { withSessionLock } from './platform/db/session-lock.ts'
import { seedCatalog } from './seed/index.ts'

export const DEMO_PRODUCTS = 600

export async function prepareFirstStart(platform: Platform, modules: Modules, products = DEMO_PRODUCTS): Promise<void> {
  await withSessionLock(platform.config.databaseUrl, 'shop:first-start', async () => {
    if (platform.config.seedDemo && !(await modules.catalog.hasProducts())) {
      platform.log.info({ products }, 'empty catalog: seeding the demo catalog')
      await seedCatalog(platform.sql, { products, seed: 1, log: platform.log })
    }
    // The demo seed writes no events: build the search index once if it is empty.
    const reindexed = await modules.search.reindexIfEmpty()
    if (reindexed) platform.log.info(reindexed, 'search index built')
  })
}
