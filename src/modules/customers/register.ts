import { AppError, PATTERNS, validationFailed, type FieldError } from '../../platform/http/errors.ts'
import { countryCode, regionOf } from './countries.ts'
import { normalizeEmail } from '../../platform/email-address.ts'
import { openSession, type SignedIn, type SignInDeps } from './login.ts'
import { hashPassword } from './passwords.ts'
import { insertCustomer } from './repo.ts'

export interface RegisterInput {
  email: string
  password: string
  name: string
  country: string
  cartId?: string
}

// The same rule as checkout's e-mail (PATTERNS.email): an address one can register with, one can buy with.
const EMAIL = new RegExp(PATTERNS.email)

/** Creates a customer account and signs it in. The route schema has checked the lengths. */
export async function register(deps: SignInDeps, input: RegisterInput, clientIp: string): Promise<SignedIn> {
  await deps.throttle.registering(clientIp)
  const email = normalizeEmail(input.email)
  const name = input.name.trim()
  const country = countryCode(input.country)
  const errors: FieldError[] = []
  if (!EMAIL.test(email)) errors.push({ path: 'email', message: 'is not an e-mail address' })
  if (name === '') errors.push({ path: 'name', message: 'must not be blank' })
  if (!country) errors.push({ path: 'country', message: 'is not an ISO 3166-1 alpha-2 country code' })
  if (errors.length > 0 || !country) throw validationFailed(errors)

  const row = await insertCustomer(deps.sql, {
    email,
    passwordHash: await hashPassword(input.password),
    name,
    role: 'customer',
    country,
    region: regionOf(country),
  })
  if (!row) {
    throw new AppError('conflict', 'An account with this e-mail exists already', {
      errors: [{ path: 'email', message: 'is already registered' }],
    })
  }
  return openSession(deps, row, input.cartId)
}
