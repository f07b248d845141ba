import { Counter } from 'prom-client'
import type { Metrics } from '../../platform/telemetry/metrics.ts'

/**
 * checkout_outcomes_total by outcome: paid, pending_payment, or the refusal's code
 * (payment_declined, out_of_stock, price_changed, unavailable while the gateway's breaker is
 * open ...). The HTTP histogram tells a 409 from a 201; a sale's dashboard needs to tell
 * sold-out from re-priced, and see the checkouts turned away while payments were paused,
 * which never reach the gateway and so are in no gateway call count.
 */
export function checkoutOutcomes(metrics: Metrics): (outcome: string) => void {
  const counter =
    (metrics.registry.getSingleMetric('checkout_outcomes_total') as Counter<'outcome'> | undefined) ??
    new Counter({
      name: 'checkout_outcomes_total',
      help: 'Checkouts answered, by outcome: paid, pending_payment, or the refusal code (payment_declined, out_of_stock, price_changed, unavailable, ...)',
      labelNames: ['outcome'],
      registers: [metrics.registry],
    })
  return (outcome) => counter.inc({ outcome })
}
