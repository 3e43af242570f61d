print("unlearn: under construction")
