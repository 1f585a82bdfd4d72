"""A policy with a purpose for every legal basis and kind of choice, for the decision table."""

from __future__ import annotations

EVERY_BASIS = """\
keepfaith: 1
organisation:
  legal_name: Example Sounds Ltd
  postal_address:
    street: 1 Example Street
    locality: London
    postal_code: EC1A 1AA
    country: GB
  contact:
    email: privacy@shop.example.co.uk
  website: https://shop.example.co.uk
jurisdictions: [uk_gdpr, pecr]
data_categories:
  user.name:
    title: Name
    required: true
  user.contact.email:
    title: E-mail address
    required: true
  user.contact.address:
    title: Postal address
  user.device.cookie_id:
    title: Cookie identifier
  user.health.access:
    title: Access needs
    special: true
purposes:
  orders:
    title: Orders
    description: Take, deliver and support your orders.
    legal_basis: contract
    categories: [user.name, user.contact.email, user.contact.address]
    retention: {period: P6Y, trigger: end_of_contract}
    channels: [email, post]
  tax:
    title: Tax records
    description: Keep the records tax law requires.
    legal_basis: legal_obligation
    categories: [user.name]
    retention: {period: P6Y, trigger: transaction}
    channels: [post]
  emergencies:
    title: Emergencies
    description: Help in an emergency at our studio.
    legal_basis: vital_interests
    categories: [user.name]
    retention: {period: P30D, trigger: collection}
  licensing:
    title: Licensing returns
    description: Report performances to the licensing authority.
    legal_basis: public_task
    categories: [user.name]
    retention: {period: P1Y, trigger: collection}
  fraud:
    title: Fraud checks
    description: Check orders for fraud.
    legal_basis: legitimate_interests
    legitimate_interest: Preventing fraud.
    categories: [user.name, user.contact.email]
    retention: {period: P1Y, trigger: collection}
  catalogue:
    title: Catalogue by post
    description: Our printed catalogue.
    legal_basis: legitimate_interests
    legitimate_interest: Telling customers about new products.
    categories: [user.name, user.contact.address]
    retention: {period: P3Y, trigger: last_interaction}
    channels: [post]
    marketing: true
  offers:
    title: Offers for customers
    description: Offers on products like those you bought.
    legal_basis: legitimate_interests
    legitimate_interest: Telling customers about similar products.
    soft_opt_in: true
    categories: [user.name, user.contact.email, user.contact.address]
    retention: {period: P3Y, trigger: last_interaction}
    channels: [email, sms, post]
    marketing: true
  newsletter:
    title: Newsletter
    description: Our monthly newsletter.
    legal_basis: consent
    categories: [user.contact.email]
    retention: {period: P0D, trigger: consent_withdrawn}
    channels: [email]
    marketing: true
  adverts:
    title: Adverts on other sites
    description: Show you our adverts elsewhere.
    legal_basis: consent
    categories: [user.device.cookie_id]
    retention: {period: P13M, trigger: collection}
    channels: [web]
    marketing: true
    targeted_advertising: true
  partner_ads:
    title: Adverts through our partner
    description: Let our advertising partner show you our adverts.
    legal_basis: legitimate_interests
    legitimate_interest: Advertising our shop.
    categories: [user.device.cookie_id]
    retention: {period: P13M, trigger: collection}
    channels: [web]
    sharing: true
  access:
    title: Access needs
    description: Arrange your visit around your access needs.
    legal_basis: consent
    explicit_consent: true
    categories: [user.name, user.health.access]
    retention: {period: P30D, trigger: end_of_contract}
"""
