"""RabbitMQ side of the chassis: message context, topology, consumers with retry and parking."""
