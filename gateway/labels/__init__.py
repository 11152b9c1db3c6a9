"""Label documents: storage (``storage``) and rendering/conversion (``render``). No Flask, no database."""
