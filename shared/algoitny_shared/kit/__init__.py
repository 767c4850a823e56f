"""The service kit: what every service's composition root, HTTP app and command line share.

- :mod:`~algoitny_shared.kit.composition`: the parts each ``bootstrap.build()`` starts from
  (settings, DynamoDB client, broker, outbox and relay, unit of work, consumers);
- :mod:`~algoitny_shared.kit.app_factory`: the HTTP app with its lifespan (broker, relay,
  background tasks, start and stop hooks) and readiness checks;
- :mod:`~algoitny_shared.kit.cli`: the ``main`` of a service's command line (``serve`` and
  the service's own commands).

A service's ``bootstrap.py`` then holds only its own wiring. The kit knows no service.
"""
