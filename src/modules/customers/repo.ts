import type { Db } from '../../platform/db/index.ts'

export interface CustomerRow {
  id: string
  email: string
  password_hash: string
  name: string
  role: 'customer' | 'admin'
  country: string | null
  region: string
  created_at: Date
}

export async function findByEmail(db: Db, email: string): Promise<CustomerRow | null> {
  const [row] = await db<CustomerRow[]>`select * from customers.customers where email = ${email}`
  return row ?? null
}

export async function findById(db: Db, id: string): Promise<CustomerRow | null> {
  const [row] = await db<CustomerRow[]>`select * from customers.customers where id = ${id}`
  return row ?? null
}

export async function insertCustomer(
  db: Db,
  c: { email: string; passwordHash: string; name: string; role: 'customer' | 'admin'; country: string | null; region: string },
): Promise<CustomerRow | null> {
  const [row] = await db<CustomerRow[]>`
    insert into customers.customers (email, password_hash, name, role, country, region)
    values (${c.email}, ${c.passwordHash}, ${c.name}, ${c.role}, ${c.country}, ${c.region})
    on conflict (email) do nothing
    returning *`
  return row ?? null
}

export async function promoteToAdmin(db: Db, id: string): Promise<void> {
  await db`update customers.customers set role = 'admin' where id = ${id}`
}
