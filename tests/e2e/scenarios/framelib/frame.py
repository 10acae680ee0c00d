# Buffer exporters defined in Python (subclasses of bytearray: PEP 688's
# __buffer__ needs 3.12), one of them nested in another class.


class Frame(bytearray):
    """A message frame: its type is framelib.frame.Frame, its tp_name Frame."""


class Message:
    class Part(bytearray):
        """Qualified name Message.Part."""
