import type { CartStore } from './store.ts'

/** The id of the customer's account cart, created on first use. */
export async function accountCartId(store: CartStore, customerId: string): Promise<string> {
  const recorded = await store.accountCartId(customerId)
  if (recorded && (await store.meta(recorded))) return recorded

  const created = await store.create(customerId)
  if (recorded) {
    // The pointer outlived its cart (they expire together, but not in the same instant).
    await store.replaceAccountCart(customerId, created)
    return created
  }
  if (await store.claimAccountCart(customerId, created)) return created
  // Two first visits raced and the other one recorded its cart first: use that one.
  await store.destroy(created)
  return (await store.accountCartId(customerId)) ?? created
}
