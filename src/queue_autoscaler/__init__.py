"""queue-autoscaler's Lambda bundle (CodeUri: src/): the handlers, the pure decision core
(`scaling`), the only code that calls AWS (`adapters`), and what they share (`common`)."""
