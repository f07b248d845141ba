-- E-mails are kept in Unicode NFC (customers/login.ts, normalizeEmail): an address stored
-- before in another form is rewritten, unless an account already has its NFC form (then
-- both stay as they are, and sign-in finds the NFC one).
update customers.customers c set email = normalize(c.email, NFC)
where not c.email is nfc normalized
  and not exists (select 1 from customers.customers o where o.email = normalize(c.email, NFC));
