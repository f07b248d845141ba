import type { CartStore } from './store.ts'

/** The id of the customer's account cart, created on first use. */
export async function accountCartId(store: CartStore, customerId: string): Promise<string> {
  const recorded = await store.accountCartId(customerId)
  if (recorded && (await store.meta(recorded))) return recorded

  const created = await store.create(customerId)
  // The pointer outlived its cart (they expire together, but not in the same instant): replaced
  // only if it still names that cart. Two requests replacing it at once each made a cart, the
  // last pointer won, and a line added to the other cart was lost.
  if (recorded ? await store.replaceAccountCart(customerId, created, recorded) : await store.claimAccountCart(customerId, created)) return created
  // Another request recorded its cart first: use that one.
  await store.destroy(created)
  return (await store.accountCartId(customerId)) ?? created
}
