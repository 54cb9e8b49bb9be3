"""Who may do what on the bus: the ACL plan, its Strimzi rendering, and the participants' credentials."""
