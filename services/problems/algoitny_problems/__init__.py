"""Problems service: owns the problem catalogue and test cases."""
