// The scenario registry: add a file to bench/scenarios/ and list it here.
import { cart } from './cart.ts'
import { checkout } from './checkout.ts'
import { list } from './list.ts'
import { product } from './product.ts'
import { search, suggest } from './search.ts'
import { seed } from './seed.ts'
import type { Scenario } from './types.ts'

export const scenarios: readonly Scenario[] = [product, list, cart, checkout, search, suggest, seed]

export type { FlowReport, FlowScenario, LoadContext, LoadOptions, LoadScenario, Scenario, TaskContext, TaskReport, TaskScenario } from './types.ts'
