"""Token-level confidence read from TokenStats: DeepConf per sample, the confidence-weighted
vote, where two answer groups' generations fork, and the spots where one answer hesitated."""
